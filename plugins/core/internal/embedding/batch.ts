/**
 * The embedding batch `embed` produces and `index` consumes: which provider
 * and model made the vectors, their dimension, and one vector per chunk id.
 */
import { Schema } from "effect"

/** One chunk's vector. */
export const ChunkVector = Schema.Struct({
  chunkId: Schema.String,
  vector: Schema.Array(Schema.Finite)
})
export type ChunkVector = typeof ChunkVector.Type

/** Vectors for a list of chunks, all of `dimensions` length. */
export const EmbeddingBatch = Schema.Struct({
  /** `hashing` or `openai`. */
  provider: Schema.String,
  model: Schema.String,
  /** Length of every vector; 0 only when there are no vectors and the provider could not say. */
  dimensions: Schema.Int.pipe(Schema.check(Schema.isGreaterThanOrEqualTo(0))),
  vectors: Schema.Array(ChunkVector)
})
export type EmbeddingBatch = typeof EmbeddingBatch.Type
