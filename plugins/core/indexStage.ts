/**
 * `core/core.index`: stores an embedding batch in the on-disk vector store
 * (SQLite with sqlite-vec), upserting by chunk id so indexing the same
 * document again replaces its vectors, and sets a receipt in `index_receipt`.
 */
import { resolve } from "node:path"
import { Effect, Schema } from "effect"
import { defineStage, StageError } from "@switchyard/sdk"
import { EmbeddingBatch } from "./internal/embedding/batch.ts"
import { collectionPattern, openVectorStore } from "./internal/vectorStore.ts"

/** The inputs of `core/core.index`. */
export const IndexInputs = Schema.Struct({
  /** The `embed` output, usually `{{ state.embedding_batch }}`. */
  embeddings: EmbeddingBatch.annotate({ description: "The embedding batch core.embed produced." }),
  /** Path of the store file, relative to the working directory. @default ".switchyard/index.db" */
  store: Schema.String.pipe(Schema.check(Schema.isNonEmpty()))
    .annotate({ description: "Path of the SQLite vector store, relative to the working directory.", default: ".switchyard/index.db" })
    .pipe(Schema.withDecodingDefaultKey(Effect.succeed(".switchyard/index.db"))),
  /** Collection (table family) to write to. @default "chunks" */
  collection: Schema.String.pipe(
    Schema.check(Schema.isPattern(collectionPattern, { message: "expected letters, digits and _, not starting with a digit, at most 64" }))
  )
    .annotate({ description: "Collection to write to: one vec0 table per collection and dimension.", default: "chunks" })
    .pipe(Schema.withDecodingDefaultKey(Effect.succeed("chunks")))
})

/** What `index` reports. */
export const IndexReceipt = Schema.Struct({
  /** Absolute path of the store file. */
  store: Schema.String,
  collection: Schema.String,
  dimensions: Schema.Int,
  chunks_indexed: Schema.Int,
  /** Vectors in the collection after this write (of this dimension). */
  total_in_collection: Schema.Int
})

/** `{ embeddings, store, collection }` → `{ store, collection, dimensions, chunks_indexed, total_in_collection }`. */
export const index = defineStage({
  type: "core/core.index",
  version: "1.0.0",
  description: "Upserts chunk vectors into an on-disk sqlite-vec store, one vec0 table per collection and dimension.",
  plugin: "core",
  stateKey: "index_receipt",
  output: "set",
  count: "field(chunks_indexed)",
  dependencies: ["core/core.embed"],
  timeout: 120_000,
  inputs: IndexInputs,
  outputs: IndexReceipt,
  run: ({ collection, embeddings, store }) =>
    Effect.acquireUseRelease(
      Effect.try({
        try: () => openVectorStore(resolve(store)),
        catch: (error) =>
          new StageError({
            message: `core/core.index: cannot open the vector store ${resolve(store)}: ${error instanceof Error ? error.message : String(error)}`
          })
      }),
      (vectors) =>
        Effect.try({
          try: () => {
            const written =
              embeddings.vectors.length === 0
                ? 0
                : vectors.upsert({
                    collection,
                    dimensions: embeddings.dimensions,
                    origin: { provider: embeddings.provider, model: embeddings.model },
                    vectors: embeddings.vectors
                  })
            return {
              store: vectors.path,
              collection,
              dimensions: embeddings.dimensions,
              chunks_indexed: written,
              total_in_collection: vectors.count(collection, embeddings.vectors.length === 0 ? undefined : embeddings.dimensions)
            }
          },
          catch: (error) => error
        }),
      (vectors) => Effect.sync(() => vectors.close())
    )
})
