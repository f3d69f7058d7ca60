import { join } from "node:path"
import { describe, expect, it } from "@effect/vitest"
import { Cause, Effect, Exit, Schema } from "effect"
import { embed } from "../../../plugins/core/embed.ts"
import { index, IndexInputs } from "../../../plugins/core/indexStage.ts"
import { openVectorStore } from "../../../plugins/core/internal/vectorStore.ts"
import { StageMetadata } from "../../../schemas/StageMetadata.ts"
import type { StageFailure } from "../../../sdk/defineStage.ts"
import { applyOutput } from "../../../services/scheduler/internal/applyOutput.ts"
import { onWire } from "./fixtures/support.ts"
import { countOutput } from "../../../schemas/Count.ts"
import type { ChunkJson } from "./fixtures-b/chunks.ts"
import { careChunks, respiratoryChunks } from "./fixtures-b/chunks.ts"
import { sampleCorpus } from "./fixtures-b/corpus.ts"
import { taskInfo, tempDir } from "./fixtures-b/support.ts"
import { batchesOf, sameWhenMapped } from "./fixtures/fanOut.ts"
import { runStage } from "../../support/stages.ts"

/** What `embed` returns: one record per chunk. */
type Embeddings = ReadonlyArray<{
  readonly chunkId: string
  readonly provider: string
  readonly model: string
  readonly vector: ReadonlyArray<number>
}>

const embedded = (chunks: ReadonlyArray<ChunkJson>, provider: unknown = { kind: "hashing", dimensions: 64 }) =>
  runStage(embed, { chunks, provider }, taskInfo()).pipe(Effect.map((output) => output as unknown as Embeddings))

const idsOf = (embeddings: Embeddings) => embeddings.map((item) => item.chunkId)

/** How many vectors `collection` of the store at `path` holds. */
const countIn = (path: string, collection = "chunks", dimensions?: number) =>
  Effect.acquireUseRelease(
    Effect.sync(() => openVectorStore(path)),
    (vectors) => Effect.sync(() => vectors.count(collection, dimensions)),
    (vectors) => Effect.sync(() => vectors.close())
  )

const failureOf = (exit: Exit.Exit<unknown, StageFailure>): StageFailure => {
  expect(Exit.isFailure(exit)).toBe(true)
  return (Exit.isFailure(exit) ? Cause.squash(exit.cause) : undefined) as StageFailure
}

describe("core/core.index", () => {
  it.effect("declares its metadata: state key, set output, count of indexed chunks, after embed", () =>
    Effect.gen(function* () {
      const metadata = yield* Schema.decodeUnknownEffect(StageMetadata)(JSON.parse(JSON.stringify(index.metadata)))
      expect(metadata).toMatchObject({
        type: "core/core.index",
        plugin: "core",
        version: "2.0.0",
        runtime: "inline",
        stateKey: "indexed_chunks",
        output: "set",
        count: "length",
        dependencies: ["core/core.embed"]
      })
      const defaults = Schema.decodeUnknownSync(IndexInputs)({ embeddings: [] })
      expect([defaults.store, defaults.collection]).toEqual([".switchyard/index.db", "chunks"])
    })
  )

  it.live("upserts by chunk id: indexing the same document again does not add rows", () =>
    Effect.gen(function* () {
      const store = join(yield* tempDir("index"), "nested", "index.db")
      const care = yield* embedded(careChunks())
      const first = yield* runStage(index, { embeddings: care, store }, taskInfo())
      expect(first).toEqual(idsOf(care))
      expect(countOutput(index.metadata.count, first)).toBe(4)
      const applied = applyOutput({}, { stateKey: index.metadata.stateKey, mode: index.metadata.output, output: onWire(first) })
      expect(applied._tag === "Applied" && applied.state.indexed_chunks).toEqual(first)
      expect(yield* countIn(store)).toBe(4)

      expect(yield* runStage(index, { embeddings: care, store }, taskInfo())).toEqual(idsOf(care))
      expect(yield* countIn(store)).toBe(4)
      const respiratory = yield* embedded(respiratoryChunks())
      expect(yield* runStage(index, { embeddings: respiratory, store }, taskInfo())).toEqual(idsOf(respiratory))
      expect(yield* countIn(store)).toBe(8)
    }).pipe(Effect.scoped)
  )

  it.live("finds each chunk's own vector first, and near chunks before far ones", () =>
    Effect.gen(function* () {
      const store = join(yield* tempDir("index"), "index.db")
      const batch = yield* embedded([...careChunks(), ...respiratoryChunks()])
      yield* runStage(index, { embeddings: batch, store, collection: "medical" }, taskInfo())
      const vectors = openVectorStore(store)
      yield* Effect.addFinalizer(() => Effect.sync(() => vectors.close()))
      for (const { chunkId, vector } of batch) {
        const [nearest, next] = vectors.query({ collection: "medical", vector, k: 2 })
        expect(nearest!.chunkId).toBe(chunkId)
        expect(nearest!.distance).toBeCloseTo(0, 5)
        expect(next!.distance).toBeGreaterThan(nearest!.distance)
      }
      const [pneumonia] = yield* embedded([{ ...respiratoryChunks()[0]!, id: "query", text: "amoxicillin for pneumonia" }]).pipe(
        Effect.map((query) => query.map((item) => item.vector))
      )
      expect(vectors.query({ collection: "medical", vector: pneumonia!, k: 1 })[0]!.chunkId).toBe("respiratory:0")
      expect(vectors.query({ collection: "absent", vector: pneumonia!, k: 1 })).toEqual([])
      expect(vectors.count("medical")).toBe(8)
    }).pipe(Effect.scoped)
  )

  it.live("indexes the sample corpus once however often it runs, and finds the pneumonia guide for a pneumonia question", () =>
    Effect.gen(function* () {
      const store = join(yield* tempDir("index"), "index.db")
      const { chunks, documents } = yield* sampleCorpus
      const batch = yield* embedded(chunks, { kind: "hashing", dimensions: 256, bigrams: true })
      expect(yield* runStage(index, { embeddings: batch, store }, taskInfo())).toHaveLength(chunks.length)
      expect(yield* runStage(index, { embeddings: batch, store }, taskInfo())).toHaveLength(chunks.length)
      expect(yield* countIn(store)).toBe(chunks.length)

      const question = yield* embedded(
        [{ ...chunks[0]!, text: "Which antibiotic treats community-acquired pneumonia, at what dose and for how many days?" }],
        {
          kind: "hashing",
          dimensions: 256,
          bigrams: true
        }
      )
      const vectors = openVectorStore(store)
      yield* Effect.addFinalizer(() => Effect.sync(() => vectors.close()))
      const [best] = vectors.query({ collection: "chunks", vector: question[0]!.vector, k: 3 })
      const documentId = chunks.find((chunk) => chunk.id === best!.chunkId)!.documentId
      expect(documents.find((document) => document.id === documentId)!.title).toBe("Community-Acquired Pneumonia in Adults")
    }).pipe(Effect.scoped)
  )

  it.live("indexing the sample embeddings one by one, or in fives, and concatenating gives what indexing them all gives", () =>
    Effect.gen(function* () {
      const dir = yield* tempDir("index")
      const { chunks } = yield* sampleCorpus
      const embeddings = yield* embedded(chunks, { kind: "hashing", dimensions: 128 })
      for (const size of [1, 5]) {
        const whole = join(dir, `whole-${size}.db`)
        const mapped = join(dir, `mapped-${size}.db`)
        const { count } = yield* sameWhenMapped(index, {
          whole: { embeddings, store: whole },
          batches: batchesOf(embeddings, size).map((batch) => ({ embeddings: batch, store: mapped })),
          concurrent: true
        })
        expect(count).toBe(chunks.length)
        expect([yield* countIn(whole), yield* countIn(mapped)]).toEqual([chunks.length, chunks.length])
      }
    }).pipe(Effect.scoped)
  )

  it.live("keeps vectors of another embedder out of a collection, and apart by dimension", () =>
    Effect.gen(function* () {
      const store = join(yield* tempDir("index"), "index.db")
      yield* runStage(index, { embeddings: yield* embedded(careChunks()), store }, taskInfo())
      const bigrams = yield* embedded(careChunks(), { kind: "hashing", dimensions: 64, bigrams: true })
      const mixed = failureOf(yield* Effect.exit(runStage(index, { embeddings: bigrams, store }, taskInfo())))
      expect(mixed).toMatchObject({ tag: "VectorStoreError", retryable: false })
      expect(mixed.message).toBe(
        `collection "chunks" (64 dimensions) holds vectors from hashing/hashing-unigram-64, found vectors from hashing/hashing-unigram-bigram-64; use another collection`
      )
      expect(yield* runStage(index, { embeddings: bigrams, store, collection: "bigrams" }, taskInfo())).toHaveLength(4)
      expect(yield* countIn(store, "bigrams")).toBe(4)
      const wide = yield* embedded(careChunks().slice(0, 1), { kind: "hashing", dimensions: 128 })
      expect(yield* runStage(index, { embeddings: wide, store }, taskInfo())).toHaveLength(1)
      expect([yield* countIn(store, "chunks", 128), yield* countIn(store, "chunks", 64)]).toEqual([1, 4])
      // One call mixing two embedders of one dimension writes nothing at all.
      const unigrams = yield* embedded(careChunks())
      const mixedCall = failureOf(
        yield* Effect.exit(runStage(index, { embeddings: [...wide, ...unigrams, ...bigrams], store, collection: "fresh" }, taskInfo()))
      )
      expect(mixedCall.message).toBe(
        `embeddings[5] (chunk care:0) is from hashing/hashing-unigram-bigram-64, but collection "fresh" (64 dimensions) holds vectors from hashing/hashing-unigram-64; use another collection`
      )
      expect(yield* countIn(store, "fresh")).toBe(0)
    }).pipe(Effect.scoped)
  )

  it.live("refuses an empty vector and a collection name that is not an identifier", () =>
    Effect.gen(function* () {
      const store = join(yield* tempDir("index"), "index.db")
      const batch = [
        { chunkId: "a", provider: "hashing", model: "m", vector: [1, 0, 0] },
        { chunkId: "b", provider: "hashing", model: "m", vector: [] }
      ]
      const empty = failureOf(yield* Effect.exit(runStage(index, { embeddings: batch, store }, taskInfo())))
      expect(empty.tag).toBe("InvalidInputError")
      expect(empty.message).toContain("embeddings")
      const badName = failureOf(
        yield* Effect.exit(runStage(index, { embeddings: batch.slice(0, 1), store, collection: "drop table" }, taskInfo()))
      )
      expect(badName.tag).toBe("InvalidInputError")
      expect(badName.message).toContain("collection")
      expect(yield* runStage(index, { embeddings: [], store }, taskInfo())).toEqual([])
      expect(yield* countIn(store)).toBe(0)
    }).pipe(Effect.scoped)
  )
})
