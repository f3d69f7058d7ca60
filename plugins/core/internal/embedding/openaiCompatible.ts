/**
 * The OpenAI-compatible embedder: `POST {endpoint}/embeddings` with
 * `{ model, input, dimensions? }`, as served by OpenAI and by most local and
 * hosted model servers. Texts go in batches of `batchSize`, one after the
 * other; each request is retried with exponential backoff on network errors,
 * 429 and 5xx (never on another 4xx or a malformed body). The response is
 * decoded with a schema and checked: one vector per input, put back in input
 * order by `index`, all of one length (the requested one, when given).
 */
import { Effect, Schedule, Schema } from "effect"
import { describeIssue } from "@switchyard/schemas/Codec"
import { causeMessage } from "../causeMessage.ts"
import type { EmbeddingProvider } from "./provider.ts"
import { EmbeddingError } from "./provider.ts"

/** What the OpenAI-compatible embedder takes. */
export interface OpenAiOptions {
  /** Base URL, such as `https://api.openai.com/v1`; `/embeddings` is appended. */
  readonly endpoint: string
  readonly model: string
  /** Sent as a bearer token when present. */
  readonly apiKey?: string | undefined
  readonly batchSize: number
  /** Further attempts after the first, per batch. */
  readonly retries: number
  /** Asked of the server (models that can shorten their vectors) and checked on the response. */
  readonly dimensions?: number | undefined
  /** First backoff delay; doubles on every retry. @default 200 */
  readonly backoffMs?: number
}

const EmbeddingsResponse = Schema.Struct({
  data: Schema.Array(
    Schema.Struct({
      index: Schema.Int.pipe(Schema.check(Schema.isGreaterThanOrEqualTo(0))),
      embedding: Schema.Array(Schema.Finite)
    })
  )
})

const bodySnippet = (text: string): string => {
  const flat = text.replace(/\s+/g, " ").trim()
  return flat === "" ? "" : `: ${flat.length > 200 ? `${flat.slice(0, 200)}…` : flat}`
}

/** A provider that calls an OpenAI-compatible `/embeddings` endpoint. */
export const openAiProvider = (options: OpenAiOptions): EmbeddingProvider => {
  const url = `${options.endpoint.replace(/\/+$/, "")}/embeddings`
  const failure = (message: string, retryable: boolean, status?: number) =>
    new EmbeddingError({ provider: "openai", endpoint: url, message, retryable, ...(status === undefined ? {} : { status }) })
  const headers: Record<string, string> = { "content-type": "application/json", accept: "application/json" }
  if (options.apiKey !== undefined && options.apiKey !== "") headers.authorization = `Bearer ${options.apiKey}`

  const requestOnce = (input: ReadonlyArray<string>, signal: AbortSignal) =>
    Effect.gen(function* () {
      const body = JSON.stringify({
        model: options.model,
        input,
        ...(options.dimensions === undefined ? {} : { dimensions: options.dimensions })
      })
      const response = yield* Effect.tryPromise({
        try: (interrupted) => fetch(url, { method: "POST", headers, body, signal: AbortSignal.any([signal, interrupted]) }),
        catch: (error) => failure(`POST ${url} failed: ${causeMessage(error)}`, true)
      })
      const text = yield* Effect.tryPromise({
        try: () => response.text(),
        catch: (error) => failure(`reading the response of POST ${url} failed: ${causeMessage(error)}`, true, response.status)
      })
      if (!response.ok) {
        const retryable = response.status === 429 || response.status >= 500
        return yield* failure(`POST ${url} answered ${response.status}${bodySnippet(text)}`, retryable, response.status)
      }
      const json = yield* Effect.try({
        try: () => JSON.parse(text) as unknown,
        catch: () => failure(`POST ${url} answered ${response.status} with a body that is not JSON${bodySnippet(text)}`, false)
      })
      const decoded = yield* Schema.decodeUnknownEffect(EmbeddingsResponse)(json).pipe(
        Effect.mapError((error) => {
          const { message, path } = describeIssue(error.issue)
          return failure(`POST ${url} answered with an unexpected body${path === "" ? "" : ` at ${path}`}: ${message}`, false)
        })
      )
      return yield* orderedVectors(decoded.data, input.length, options.dimensions, (message) => failure(`POST ${url}: ${message}`, false))
    })

  const schedule = Schedule.exponential(`${options.backoffMs ?? 200} millis`, 2)
  const request = (input: ReadonlyArray<string>, signal: AbortSignal) =>
    requestOnce(input, signal).pipe(Effect.retry({ schedule, times: options.retries, while: (error) => error.retryable }))

  return {
    kind: "openai",
    model: options.model,
    embed: (texts, signal) =>
      Effect.gen(function* () {
        const vectors: Array<ReadonlyArray<number>> = []
        for (let start = 0; start < texts.length; start += options.batchSize) {
          vectors.push(...(yield* request(texts.slice(start, start + options.batchSize), signal)))
        }
        return vectors
      })
  }
}

/** The vectors in input order, after checking there is exactly one per input and all share one length. */
const orderedVectors = (
  data: ReadonlyArray<{ readonly index: number; readonly embedding: ReadonlyArray<number> }>,
  expected: number,
  dimensions: number | undefined,
  fail: (message: string) => EmbeddingError
): Effect.Effect<ReadonlyArray<ReadonlyArray<number>>, EmbeddingError> => {
  if (data.length !== expected) return Effect.fail(fail(`expected ${expected} embeddings, found ${data.length}`))
  const ordered = new Array<ReadonlyArray<number> | undefined>(expected)
  for (const item of data) {
    if (item.index >= expected || ordered[item.index] !== undefined) {
      return Effect.fail(fail(`expected indexes 0 to ${expected - 1} once each, found index ${item.index} out of range or repeated`))
    }
    ordered[item.index] = item.embedding
  }
  const length = dimensions ?? ordered[0]?.length ?? 0
  const bad = ordered.findIndex((vector) => vector === undefined || vector.length !== length || vector.length === 0)
  if (bad !== -1) return Effect.fail(fail(`expected vectors of ${length} dimensions, found ${ordered[bad]?.length ?? 0} at index ${bad}`))
  return Effect.succeed(ordered as ReadonlyArray<ReadonlyArray<number>>)
}
