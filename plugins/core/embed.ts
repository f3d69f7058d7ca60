/**
 * `core/core.embed`: turns chunks into vectors with a pluggable provider
 * (offline feature hashing by default, or an OpenAI-compatible endpoint) and
 * sets the batch in `embedding_batch` for `index`.
 */
import { Effect, Schema } from "effect"
import { defineStage } from "@switchyard/sdk"
import { Chunk } from "@switchyard/schemas/DocumentIR"
import { EmbeddingBatch } from "./internal/embedding/batch.ts"
import { ProviderSettings, providerFor } from "./internal/embedding/settings.ts"

/** The inputs of `core/core.embed`. */
export const EmbedInputs = Schema.Struct({
  chunks: Schema.Array(Chunk).annotate({ description: "The chunks core.chunk produced." }),
  /** Which embedder to use. @default { kind: "hashing", dimensions: 256 } */
  provider: ProviderSettings.annotate({
    description:
      "The embedder: { kind: hashing, dimensions, bigrams } (lexical, offline) or { kind: openai, endpoint, model, apiKey, batchSize, retries, backoffMs, dimensions }.",
    default: { kind: "hashing", dimensions: 256, bigrams: false }
  }).pipe(Schema.withDecodingDefaultKey(Effect.succeed({ kind: "hashing" as const, dimensions: 256 })))
})

/** `{ chunks, provider }` → `{ provider, model, dimensions, vectors: [{ chunkId, vector }] }`. */
export const embed = defineStage({
  type: "core/core.embed",
  version: "1.0.0",
  description:
    "Embeds chunks as vectors: lexical feature hashing by default (offline, deterministic, not semantic), or an OpenAI-compatible /embeddings endpoint.",
  plugin: "core",
  stateKey: "embedding_batch",
  output: "set",
  count: "length(vectors)",
  dependencies: ["core/core.chunk"],
  timeout: 300_000,
  // The OpenAI-compatible provider calls out, with its key as `apiKey: "{{ secrets.OPENAI_API_KEY }}"`.
  capabilities: { network: true, secrets: ["OPENAI_API_KEY"] },
  inputs: EmbedInputs,
  outputs: EmbeddingBatch,
  run: ({ chunks, provider: settings }, { signal }) =>
    Effect.gen(function* () {
      const provider = providerFor(settings)
      const vectors = yield* provider.embed(
        chunks.map((chunk) => chunk.text),
        signal
      )
      // With no chunks there is no vector to measure; 0 tells `index` there is nothing to store.
      const dimensions = vectors[0]?.length ?? settings.dimensions ?? 0
      return {
        provider: provider.kind,
        model: provider.model,
        dimensions,
        vectors: chunks.map((chunk, index) => ({ chunkId: chunk.id, vector: vectors[index]! }))
      }
    })
})
