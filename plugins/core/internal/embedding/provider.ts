/**
 * The seam between the `embed` stage and whatever turns text into vectors: an
 * `EmbeddingProvider` names its kind and model and embeds a list of texts,
 * one vector each, in order. Providers fail with `EmbeddingError`, whose
 * retryability the executor honours.
 */
import { Schema } from "effect"
import type { Effect } from "effect"

/** Turns texts into vectors, one per text, in the same order. */
export interface EmbeddingProvider {
  /** `hashing` or `openai`. */
  readonly kind: string
  /** The model name recorded with the vectors. */
  readonly model: string
  /** Embeds `texts`; every vector has the same length. */
  readonly embed: (texts: ReadonlyArray<string>, signal: AbortSignal) => Effect.Effect<ReadonlyArray<ReadonlyArray<number>>, EmbeddingError>
}

/** An embedding request failed: which provider and endpoint, the HTTP status when there was one, and why. */
export class EmbeddingError extends Schema.TaggedError<EmbeddingError>()("EmbeddingError", {
  provider: Schema.String,
  endpoint: Schema.String,
  /** HTTP status of the last response; absent for network errors and bad bodies of a 2xx response. */
  status: Schema.optionalKey(Schema.Int),
  message: Schema.String,
  /** Network errors, 429 and 5xx are worth another attempt; a bad request or response is not. */
  retryable: Schema.Boolean
}) {
  get isRetryable(): boolean {
    return this.retryable
  }
}
