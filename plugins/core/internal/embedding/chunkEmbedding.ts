/**
 * The record `embed` produces per chunk and `index` consumes: the chunk's id,
 * its vector, and which provider and model made it. Each record stands on its
 * own (the dimension is the vector's length), so lists of them made in
 * separate calls concatenate into one valid list.
 */
import { Schema } from "effect"

/** One chunk's vector and its maker. */
export const ChunkEmbedding = Schema.Struct({
  chunkId: Schema.String,
  /** `hashing` or `openai`. */
  provider: Schema.String,
  model: Schema.String,
  vector: Schema.Array(Schema.Finite).pipe(Schema.check(Schema.isMinLength(1)))
})
export type ChunkEmbedding = typeof ChunkEmbedding.Type
