/**
 * `core/core.embed`: turns chunks into vectors with a pluggable provider
 * (offline feature hashing by default, or an OpenAI-compatible endpoint) and
 * sets a list in `embeddings` for `index`: one record per chunk, in chunk
 * order, each with its chunk id, vector, provider and model. A chunk's vector
 * does not depend on the other chunks in the call, so the stage can be
 * mapped over chunks in batches.
 */
import { Effect, Schema } from "effect"
import { defineStage } from "@switchyard/sdk"
import { Chunk } from "@switchyard/schemas/DocumentIR"
import { ChunkEmbedding } from "./internal/embedding/chunkEmbedding.ts"
import { ProviderSettings, providerFor } from "./internal/embedding/settings.ts"

/** The inputs of `core/core.embed`. */
export const EmbedInputs = Schema.Struct({
  chunks: Schema.Array(Chunk).annotate({ description: "The chunks core.chunk produced (all of them, or a batch)." }),
  /** Which embedder to use. @default { kind: "hashing", dimensions: 256 } */
  provider: ProviderSettings.annotate({
    description:
      "The embedder: { kind: hashing, dimensions, bigrams } (lexical, offline) or { kind: openai, endpoint, model, apiKey, batchSize, retries, backoffMs, dimensions }.",
    default: { kind: "hashing", dimensions: 256, bigrams: false }
  }).pipe(Schema.withDecodingDefaultKey(Effect.succeed({ kind: "hashing" as const, dimensions: 256 })))
})

/** `{ chunks, provider }` → `[{ chunkId, provider, model, vector }]`, one per chunk. */
export const embed = defineStage({
  type: "core/core.embed",
  version: "2.0.0",
  description:
    "Embeds chunks as vectors: lexical feature hashing by default (offline, deterministic, not semantic), or an OpenAI-compatible /embeddings endpoint.",
  plugin: "core",
  stateKey: "embeddings",
  output: "set",
  count: "length",
  dependencies: ["core/core.chunk"],
  timeout: 300_000,
  // The OpenAI-compatible provider calls out, with its key as `apiKey: "{{ secrets.OPENAI_API_KEY }}"`.
  capabilities: { network: true, secrets: ["OPENAI_API_KEY"] },
  inputs: EmbedInputs,
  outputs: Schema.Array(ChunkEmbedding),
  run: ({ chunks, provider: settings }, { signal }) =>
    Effect.gen(function* () {
      if (chunks.length === 0) return []
      const provider = providerFor(settings)
      const vectors = yield* provider.embed(
        chunks.map((chunk) => chunk.text),
        signal
      )
      return chunks.map((chunk, index) => ({ chunkId: chunk.id, provider: provider.kind, model: provider.model, vector: vectors[index]! }))
    })
})
