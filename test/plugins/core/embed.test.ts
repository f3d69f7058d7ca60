import { describe, expect, it } from "@effect/vitest"
import { Cause, Effect, Exit, Schema } from "effect"
import { embed } from "../../../plugins/core/embed.ts"
import { hashingVector, wordsOf } from "../../../plugins/core/internal/embedding/hashing.ts"
import { StageMetadata } from "../../../schemas/StageMetadata.ts"
import type { StageFailure } from "../../../sdk/defineStage.ts"
import { applyOutput } from "../../../services/scheduler/internal/applyOutput.ts"
import { onWire } from "./fixtures/support.ts"
import { countOutput } from "../../../schemas/Count.ts"
import { careChunks, respiratoryChunks } from "./fixtures-b/chunks.ts"
import { sampleCorpus } from "./fixtures-b/corpus.ts"
import { batchesOf, sameWhenMapped } from "./fixtures/fanOut.ts"
import { httpServer } from "../../support/httpServer.ts"
import { scriptedServer, sendJson, taskInfo } from "./fixtures-b/support.ts"
import { runStage } from "../../support/stages.ts"

/** What `embed` returns: one record per chunk. */
type Embeddings = ReadonlyArray<{
  readonly chunkId: string
  readonly provider: string
  readonly model: string
  readonly vector: ReadonlyArray<number>
}>

const cosine = (a: ReadonlyArray<number>, b: ReadonlyArray<number>) => a.reduce((sum, value, index) => sum + value * b[index]!, 0)
const norm = (vector: ReadonlyArray<number>) => Math.sqrt(cosine(vector, vector))

const failureOf = (exit: Exit.Exit<unknown, StageFailure>): StageFailure => {
  expect(Exit.isFailure(exit)).toBe(true)
  return (Exit.isFailure(exit) ? Cause.squash(exit.cause) : undefined) as StageFailure
}

/** A fake embedding: the text's length and word count, so the test can tell which text a vector belongs to. */
const fakeEmbedding = (text: string) => [text.length, text.split(/\s+/).length, 1]

describe("core/core.embed", () => {
  it.effect("declares its metadata: state key, set output, count of embeddings, after chunk", () =>
    Effect.gen(function* () {
      const metadata = yield* Schema.decodeUnknownEffect(StageMetadata)(JSON.parse(JSON.stringify(embed.metadata)))
      expect(metadata).toMatchObject({
        type: "core/core.embed",
        plugin: "core",
        version: "2.0.0",
        runtime: "inline",
        stateKey: "embeddings",
        output: "set",
        count: "length",
        dependencies: ["core/core.chunk"]
      })
    })
  )

  it.effect("hashes every chunk into a deterministic unit vector of 256 dimensions by default", () =>
    Effect.gen(function* () {
      const chunks = careChunks()
      const output = (yield* runStage(embed, { chunks }, taskInfo())) as unknown as Embeddings
      expect(output.map((item) => item.chunkId)).toEqual(chunks.map((chunk) => chunk.id))
      for (const { model, provider, vector } of output) {
        expect([provider, model]).toEqual(["hashing", "hashing-unigram-256"])
        expect(vector).toHaveLength(256)
        expect(norm(vector)).toBeCloseTo(1, 10)
      }
      expect(yield* runStage(embed, { chunks }, taskInfo())).toEqual(output)
      expect(yield* runStage(embed, { chunks: [] }, taskInfo())).toEqual([])

      expect(countOutput(embed.metadata.count, output)).toBe(chunks.length)
      const applied = applyOutput(
        { chunks: onWire(chunks) },
        { stateKey: embed.metadata.stateKey, mode: embed.metadata.output, output: onWire(output) }
      )
      expect(applied._tag === "Applied" && applied.state.embeddings).toEqual(output)
    })
  )

  it.effect("embedding the sample chunks one by one, or in threes, and concatenating gives what embedding them all gives", () =>
    Effect.gen(function* () {
      const { chunks } = yield* sampleCorpus
      const provider = { kind: "hashing", dimensions: 128 }
      for (const size of [1, 3]) {
        const { count } = yield* sameWhenMapped(embed, {
          whole: { chunks, provider },
          batches: batchesOf(chunks, size).map((batch) => ({ chunks: batch, provider }))
        })
        expect(count).toBe(chunks.length)
      }
    })
  )

  it("puts texts that share words nearer than texts that do not", () => {
    const options = { dimensions: 256, bigrams: false }
    const query = hashingVector("metformin dose for type 2 diabetes", options)
    const [glucose, bloodPressure] = [careChunks()[0]!.text, careChunks()[2]!.text].map((text) => hashingVector(text, options))
    expect(cosine(query, glucose!)).toBeGreaterThan(cosine(query, bloodPressure!))
    expect(cosine(hashingVector("Metformin", options), hashingVector("METFORMIN.", options))).toBeCloseTo(1, 10)
  })

  it("segments words with Intl.Segmenter, lower cased, and hashes word pairs only when asked", () => {
    expect(wordsOf("Lisinopril lowers blood-pressure, doesn't it?")).toEqual(["lisinopril", "lowers", "blood", "pressure", "doesn't", "it"])
    const unigrams = hashingVector("blood pressure", { dimensions: 64, bigrams: false })
    expect(hashingVector("pressure blood", { dimensions: 64, bigrams: false })).toEqual(unigrams)
    expect(hashingVector("pressure blood", { dimensions: 64, bigrams: true })).not.toEqual(
      hashingVector("blood pressure", { dimensions: 64, bigrams: true })
    )
    expect(hashingVector("  ... ", { dimensions: 8, bigrams: false })).toEqual(new Array(8).fill(0))
  })

  it.live("calls an OpenAI-compatible endpoint in batches with the model and bearer token, keeping chunk order", () =>
    Effect.gen(function* () {
      const server = yield* scriptedServer((request, response) => {
        const { input } = JSON.parse(request.body) as { input: Array<string> }
        // Answer out of order: the provider must sort by index.
        const data = input.map((text, index) => ({ object: "embedding", index, embedding: fakeEmbedding(text) })).reverse()
        sendJson(response, 200, { object: "list", data, model: "test-embed", usage: { prompt_tokens: 1, total_tokens: 1 } })
      })
      const chunks = [...careChunks(), ...respiratoryChunks()]
      const output = (yield* runStage(
        embed,
        { chunks, provider: { kind: "openai", endpoint: `${server.url}/v1/`, model: "test-embed", apiKey: "sk-test", batchSize: 3 } },
        taskInfo()
      )) as unknown as Embeddings
      expect(chunks.length).toBe(8)
      expect(server.requests.map((request) => JSON.parse(request.body).input.length)).toEqual([3, 3, 2])
      for (const request of server.requests) {
        expect(request).toMatchObject({ method: "POST", url: "/v1/embeddings" })
        expect(request.headers.authorization).toBe("Bearer sk-test")
        expect(JSON.parse(request.body).model).toBe("test-embed")
      }
      expect(output).toEqual(
        chunks.map((chunk) => ({ chunkId: chunk.id, provider: "openai", model: "test-embed", vector: fakeEmbedding(chunk.text) }))
      )
      expect(countOutput(embed.metadata.count, output)).toBe(chunks.length)
    }).pipe(Effect.scoped)
  )

  it.live("retries a 429 and a 503 with backoff, then succeeds", () =>
    Effect.gen(function* () {
      const server = yield* scriptedServer((request, response, index) => {
        if (index === 0) return sendJson(response, 429, { error: { message: "rate limited" } })
        if (index === 1) return sendJson(response, 503, { error: { message: "overloaded" } })
        const { input } = JSON.parse(request.body) as { input: Array<string> }
        sendJson(response, 200, { data: input.map((text, position) => ({ index: position, embedding: fakeEmbedding(text) })) })
      })
      const chunks = careChunks().slice(0, 2)
      const output = (yield* runStage(
        embed,
        { chunks, provider: { kind: "openai", endpoint: server.url, model: "m", backoffMs: 5 } },
        taskInfo()
      )) as unknown as Embeddings
      expect(server.requests).toHaveLength(3)
      expect(server.requests[0]!.headers.authorization).toBeUndefined()
      expect(output).toHaveLength(2)
    }).pipe(Effect.scoped)
  )

  it.live("gives up after its retries with the last status, retryable", () =>
    Effect.gen(function* () {
      const server = yield* scriptedServer((_request, response) => sendJson(response, 500, { error: "down" }))
      const failure = failureOf(
        yield* Effect.exit(
          runStage(
            embed,
            { chunks: careChunks(), provider: { kind: "openai", endpoint: server.url, model: "m", retries: 2, backoffMs: 1 } },
            taskInfo()
          )
        )
      )
      expect(server.requests).toHaveLength(3)
      expect(failure).toMatchObject({ tag: "EmbeddingError", retryable: true })
      expect(failure.message).toContain(`POST ${server.url}/embeddings answered 500`)
    }).pipe(Effect.scoped)
  )

  it.live("fails clearly, without retrying, on a bad response body or a 400", () =>
    Effect.gen(function* () {
      const server = yield* scriptedServer((request, response) => {
        const { input } = JSON.parse(request.body) as { input: Array<string> }
        if (input[0]!.startsWith("bad request")) return sendJson(response, 400, { error: { message: "model not found" } })
        if (input[0]!.startsWith("missing")) return sendJson(response, 200, { data: [{ index: 0, embedding: [1, 2] }] })
        if (input[0]!.startsWith("not json")) {
          response.writeHead(200, { "content-type": "text/html" })
          return response.end("<html>proxy error</html>")
        }
        sendJson(response, 200, { data: [{ index: 0, embedding: ["x", 2] }] })
      })
      const run = (texts: Array<string>) =>
        Effect.exit(
          runStage(
            embed,
            {
              chunks: texts.map((text, index) => ({
                id: `d:${index}`,
                documentId: "d",
                index,
                text,
                start: 0,
                end: text.length,
                sectionPath: []
              })),
              provider: { kind: "openai", endpoint: server.url, model: "m", backoffMs: 1 }
            },
            taskInfo()
          )
        ).pipe(Effect.map(failureOf))

      const typed = yield* run(["wrong type"])
      expect(typed).toMatchObject({ tag: "EmbeddingError", retryable: false })
      expect(typed.message).toContain("unexpected body at data[0].embedding[0]")
      const missing = yield* run(["missing one", "second"])
      expect(missing.message).toContain("expected 2 embeddings, found 1")
      const notJson = yield* run(["not json"])
      expect(notJson.message).toContain("a body that is not JSON: <html>proxy error</html>")
      const refused = yield* run(["bad request"])
      expect(refused).toMatchObject({ retryable: false })
      expect(refused.message).toContain("answered 400")
      expect(refused.message).toContain("model not found")
      expect(server.requests).toHaveLength(4)
    }).pipe(Effect.scoped)
  )

  it.live("asks for the configured dimensions and refuses vectors of another length", () =>
    Effect.gen(function* () {
      const server = yield* scriptedServer((request, response) => {
        const { dimensions, input } = JSON.parse(request.body) as { dimensions: number; input: Array<string> }
        sendJson(response, 200, { data: input.map((_, index) => ({ index, embedding: new Array(dimensions - 1).fill(0.5) })) })
      })
      const failure = failureOf(
        yield* Effect.exit(
          runStage(
            embed,
            { chunks: careChunks(), provider: { kind: "openai", endpoint: server.url, model: "m", dimensions: 8 } },
            taskInfo()
          )
        )
      )
      expect(JSON.parse(server.requests[0]!.body).dimensions).toBe(8)
      expect(failure.message).toBe(`POST ${server.url}/embeddings: expected vectors of 8 dimensions, found 7 at index 0`)
    }).pipe(Effect.scoped)
  )

  it.live("retries when the endpoint cannot be reached, then fails retryably with the reason", () =>
    Effect.gen(function* () {
      // A server that is closed again at once: its port refuses connections.
      const closed = { url: yield* Effect.scoped(httpServer(() => {})) }
      const failure = failureOf(
        yield* Effect.exit(
          runStage(
            embed,
            { chunks: careChunks(), provider: { kind: "openai", endpoint: closed.url, model: "m", retries: 1, backoffMs: 1 } },
            taskInfo()
          )
        )
      )
      expect(failure).toMatchObject({ tag: "EmbeddingError", retryable: true })
      expect(failure.message).toContain(`POST ${closed.url}/embeddings failed: connect ECONNREFUSED`)
    }).pipe(Effect.scoped)
  )

  it.effect("refuses a provider it does not know, naming the field", () =>
    Effect.gen(function* () {
      const failure = failureOf(yield* Effect.exit(runStage(embed, { chunks: [], provider: { kind: "word2vec" } }, taskInfo())))
      expect(failure.tag).toBe("InvalidInputError")
      expect(failure.message).toContain("provider")
    })
  )
})
