/**
 * `core/core.index`: stores chunk embeddings in the on-disk vector store
 * (SQLite with sqlite-vec), upserting by chunk id so indexing the same
 * document again replaces its vectors, and sets the ids of the chunks it
 * indexed in `indexed_chunks`. Each call is one transaction, safe beside
 * other processes writing the same file, so the stage can be mapped over
 * embeddings in batches: the ids of every batch concatenate to those one
 * call over everything returns.
 */
import { resolve } from "node:path"
import { Effect, Schema } from "effect"
import { defineStage, StageError } from "@switchyard/sdk"
import { ChunkEmbedding } from "./internal/embedding/chunkEmbedding.ts"
import { collectionPattern, openVectorStore, VectorStoreError } from "./internal/vectorStore.ts"

/** The inputs of `core/core.index`. */
export const IndexInputs = Schema.Struct({
  /** The `embed` output, usually `{{ state.embeddings }}`. */
  embeddings: Schema.Array(ChunkEmbedding).annotate({ description: "The embeddings core.embed produced (all of them, or a batch)." }),
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

/** `{ embeddings, store, collection }` → the ids of the chunks indexed, in order. */
export const index = defineStage({
  type: "core/core.index",
  version: "2.0.0",
  description:
    "Upserts chunk vectors into an on-disk sqlite-vec store, one vec0 table per collection and dimension, in one transaction per call; returns the ids indexed.",
  plugin: "core",
  stateKey: "indexed_chunks",
  output: "set",
  count: "length",
  dependencies: ["core/core.embed"],
  timeout: 120_000,
  inputs: IndexInputs,
  outputs: Schema.Array(Schema.String),
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
          try: () => vectors.upsert({ collection, embeddings }),
          catch: (error) =>
            error instanceof VectorStoreError
              ? error
              : new StageError({
                  message: `core/core.index: writing to ${vectors.path} failed: ${error instanceof Error ? error.message : String(error)}`
                })
        }),
      (vectors) => Effect.sync(() => vectors.close())
    )
})
