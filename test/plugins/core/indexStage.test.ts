import { join } from "node:path"
import { describe, expect, it } from "@effect/vitest"
import { Cause, Effect, Exit, Schema } from "effect"
import { embed } from "../../../plugins/core/embed.ts"
import { index, IndexInputs } from "../../../plugins/core/indexStage.ts"
import { openVectorStore } from "../../../plugins/core/internal/vectorStore.ts"
import { StageMetadata } from "../../../schemas/StageMetadata.ts"
import type { StageFailure } from "../../../sdk/defineStage.ts"
import { applyOutput } from "../../../services/scheduler/internal/applyOutput.ts"
import { countOutput } from "../../../services/scheduler/internal/countOutput.ts"
import type { ChunkJson } from "./fixtures-b/chunks.ts"
import { careChunks, respiratoryChunks } from "./fixtures-b/chunks.ts"
import { sampleCorpus } from "./fixtures-b/corpus.ts"
import { taskInfo, tempDir } from "./fixtures-b/support.ts"
import { runStage } from "../../support/stages.ts"

interface Batch {
  readonly provider: string
  readonly model: string
  readonly dimensions: number
  readonly vectors: ReadonlyArray<{ readonly chunkId: string; readonly vector: ReadonlyArray<number> }>
}

const embedded = (chunks: ReadonlyArray<ChunkJson>, provider: unknown = { kind: "hashing", dimensions: 64 }) =>
  runStage(embed, { chunks, provider }, taskInfo()).pipe(Effect.map((output) => output as unknown as Batch))

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
        version: "1.0.0",
        runtime: "inline",
        stateKey: "index_receipt",
        output: "set",
        count: "field(chunks_indexed)",
        dependencies: ["core/core.embed"]
      })
      const defaults = Schema.decodeUnknownSync(IndexInputs)({
        embeddings: { provider: "hashing", model: "m", dimensions: 2, vectors: [] }
      })
      expect([defaults.store, defaults.collection]).toEqual([".switchyard/index.db", "chunks"])
    })
  )

  it.live("upserts by chunk id: indexing the same document again does not add rows", () =>
    Effect.gen(function* () {
      const store = join(yield* tempDir("index"), "nested", "index.db")
      const care = yield* embedded(careChunks())
      const first = yield* runStage(index, { embeddings: care, store }, taskInfo())
      expect(first).toEqual({ store, collection: "chunks", dimensions: 64, chunks_indexed: 4, total_in_collection: 4 })
      expect(countOutput(index.metadata.count, first)).toBe(4)
      const applied = applyOutput({}, { stateKey: index.metadata.stateKey, mode: index.metadata.output, output: first })
      expect(applied._tag === "Applied" && applied.state.index_receipt).toEqual(first)

      const again = yield* runStage(index, { embeddings: care, store }, taskInfo())
      expect(again).toMatchObject({ chunks_indexed: 4, total_in_collection: 4 })
      const other = yield* runStage(index, { embeddings: yield* embedded(respiratoryChunks()), store }, taskInfo())
      expect(other).toMatchObject({ chunks_indexed: 4, total_in_collection: 8 })
    }).pipe(Effect.scoped)
  )

  it.live("finds each chunk's own vector first, and near chunks before far ones", () =>
    Effect.gen(function* () {
      const store = join(yield* tempDir("index"), "index.db")
      const batch = yield* embedded([...careChunks(), ...respiratoryChunks()])
      yield* runStage(index, { embeddings: batch, store, collection: "medical" }, taskInfo())
      const vectors = openVectorStore(store)
      yield* Effect.addFinalizer(() => Effect.sync(() => vectors.close()))
      for (const { chunkId, vector } of batch.vectors) {
        const [nearest, next] = vectors.query({ collection: "medical", vector, k: 2 })
        expect(nearest!.chunkId).toBe(chunkId)
        expect(nearest!.distance).toBeCloseTo(0, 5)
        expect(next!.distance).toBeGreaterThan(nearest!.distance)
      }
      const [pneumonia] = yield* embedded([{ ...respiratoryChunks()[0]!, id: "query", text: "amoxicillin for pneumonia" }]).pipe(
        Effect.map((query) => query.vectors.map((item) => item.vector))
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
      expect(yield* runStage(index, { embeddings: batch, store }, taskInfo())).toMatchObject({
        chunks_indexed: chunks.length,
        total_in_collection: chunks.length
      })
      expect(yield* runStage(index, { embeddings: batch, store }, taskInfo())).toMatchObject({
        chunks_indexed: chunks.length,
        total_in_collection: chunks.length
      })

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
      const [best] = vectors.query({ collection: "chunks", vector: question.vectors[0]!.vector, k: 3 })
      const documentId = chunks.find((chunk) => chunk.id === best!.chunkId)!.documentId
      expect(documents.find((document) => document.id === documentId)!.title).toBe("Community-Acquired Pneumonia in Adults")
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
        `collection "chunks" (64 dimensions) holds vectors from hashing/hashing-unigram-64, found a batch from hashing/hashing-unigram-bigram-64; use another collection`
      )
      expect(yield* runStage(index, { embeddings: bigrams, store, collection: "bigrams" }, taskInfo())).toMatchObject({
        total_in_collection: 4
      })
      const wide = yield* embedded(careChunks().slice(0, 1), { kind: "hashing", dimensions: 128 })
      expect(yield* runStage(index, { embeddings: wide, store }, taskInfo())).toMatchObject({ dimensions: 128, total_in_collection: 1 })
    }).pipe(Effect.scoped)
  )

  it.live("refuses a vector of the wrong length and a collection name that is not an identifier", () =>
    Effect.gen(function* () {
      const store = join(yield* tempDir("index"), "index.db")
      const batch = {
        provider: "hashing",
        model: "m",
        dimensions: 3,
        vectors: [
          { chunkId: "a", vector: [1, 0, 0] },
          { chunkId: "b", vector: [1, 0] }
        ]
      }
      const wrong = failureOf(yield* Effect.exit(runStage(index, { embeddings: batch, store }, taskInfo())))
      expect(wrong.message).toBe("vectors[1] (chunk b): expected 3 dimensions, found 2")
      const badName = failureOf(yield* Effect.exit(runStage(index, { embeddings: batch, store, collection: "drop table" }, taskInfo())))
      expect(badName.tag).toBe("InvalidInputError")
      expect(badName.message).toContain("collection")
      const empty = yield* runStage(index, { embeddings: { ...batch, vectors: [] }, store }, taskInfo())
      expect(empty).toMatchObject({ chunks_indexed: 0, total_in_collection: 0 })
    }).pipe(Effect.scoped)
  )
})
