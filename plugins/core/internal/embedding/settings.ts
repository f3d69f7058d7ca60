/**
 * How a pipeline chooses its embedder: the `provider` input of `embed`, a
 * tagged union on `kind` with documented defaults, and the one place that
 * turns those settings into an `EmbeddingProvider`.
 */
import { Effect, Schema } from "effect"
import { hashingProvider } from "./hashing.ts"
import { openAiProvider } from "./openaiCompatible.ts"
import type { EmbeddingProvider } from "./provider.ts"

const PositiveInt = Schema.Int.pipe(Schema.check(Schema.isGreaterThan(0)))
const NonNegativeInt = Schema.Int.pipe(Schema.check(Schema.isGreaterThanOrEqualTo(0)))
const Dimensions = Schema.Int.pipe(Schema.check(Schema.isBetween({ minimum: 1, maximum: 8192 })))

/** Lexical feature hashing, offline and deterministic. */
export const HashingSettings = Schema.Struct({
  kind: Schema.Literal("hashing"),
  /** Vector length. @default 256 */
  dimensions: Dimensions.pipe(Schema.withDecodingDefaultKey(Effect.succeed(256))),
  /** Hash adjacent word pairs too. @default false */
  bigrams: Schema.Boolean.pipe(Schema.withDecodingDefaultKey(Effect.succeed(false)))
})

/** An OpenAI-compatible `/embeddings` endpoint. */
export const OpenAiSettings = Schema.Struct({
  kind: Schema.Literal("openai"),
  /** Base URL such as `https://api.openai.com/v1`. */
  endpoint: Schema.String.pipe(Schema.check(Schema.isPattern(/^https?:\/\/\S+$/, { message: "expected an http(s) URL" }))),
  model: Schema.String.pipe(Schema.check(Schema.isNonEmpty())),
  /** Bearer token, usually `{{ secrets.X }}`. */
  apiKey: Schema.optionalKey(Schema.String),
  /** Texts per request. @default 64 */
  batchSize: PositiveInt.pipe(Schema.withDecodingDefaultKey(Effect.succeed(64))),
  /** Further attempts per request on network errors, 429 and 5xx. @default 3 */
  retries: NonNegativeInt.pipe(Schema.withDecodingDefaultKey(Effect.succeed(3))),
  /** First retry delay in milliseconds, doubled on each retry. @default 200 */
  backoffMs: NonNegativeInt.pipe(Schema.withDecodingDefaultKey(Effect.succeed(200))),
  /** Vector length to ask for (models that support shortening) and to check. */
  dimensions: Schema.optionalKey(Dimensions)
})

/** The `provider` input of `embed`. */
export const ProviderSettings = Schema.Union([HashingSettings, OpenAiSettings])
export type ProviderSettings = typeof ProviderSettings.Type

/** The provider the settings describe. */
export const providerFor = (settings: ProviderSettings): EmbeddingProvider =>
  settings.kind === "hashing"
    ? hashingProvider({ dimensions: settings.dimensions, bigrams: settings.bigrams })
    : openAiProvider({
        endpoint: settings.endpoint,
        model: settings.model,
        apiKey: settings.apiKey,
        batchSize: settings.batchSize,
        retries: settings.retries,
        backoffMs: settings.backoffMs,
        dimensions: settings.dimensions
      })
