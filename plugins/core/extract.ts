/**
 * `core/core.extract`: finds entities (dictionary terms and pattern matches)
 * and claims (sentence-level rules linking two entities) in chunks, with
 * offsets in the document's text, and unpacks them into `entities`,
 * `claims` and `findings` (one per chunk: the chunk with what was found in
 * it, for `knowledge-graph` to take in batches). The vocabulary comes
 * inline, from a YAML file, or both merged.
 *
 * Chunks that overlap do not report the same mention or claim twice, and
 * which chunk reports it depends on that chunk alone: a chunk leaves out
 * what lies wholly in the part it shares with the previous chunk (its
 * `overlap`), which that chunk holds whole and reports. So extracting chunk
 * by chunk, or in any batches, and concatenating gives exactly what one call
 * over every chunk gives (findings included), and the stage can be mapped
 * over chunks. (Chunks
 * without `overlap`, from other chunkers, are instead deduplicated within
 * one call, which holds only when a document's chunks come in one call.)
 */
import { resolve } from "node:path"
import { Effect, Schema } from "effect"
import { defineStage } from "@switchyard/sdk"
import { Chunk } from "@switchyard/schemas/DocumentIR"
import { makeClaimFinder } from "./internal/claimRules.ts"
import { Claim, Entity, Finding } from "./internal/entities.ts"
import { makeEntityMatcher } from "./internal/entityMatcher.ts"
import type { Vocabulary as VocabularyType } from "./internal/vocabulary.ts"
import { loadVocabulary, mergeVocabularies, regexProblems, Vocabulary, VocabularyError } from "./internal/vocabulary.ts"

/** The inputs of `core/core.extract`: chunks, plus a vocabulary file and/or inline dictionaries, patterns and claim rules. */
export const ExtractInputs = Schema.Struct({
  chunks: Schema.Array(Chunk).annotate({ description: "The chunks core.chunk produced (all of them, or a batch)." }),
  /** Path of a vocabulary YAML file (see examples/config/medical-vocabulary.yaml), relative to the working directory. */
  vocabulary: Schema.optionalKey(
    Schema.String.annotate({
      description: "Path of a vocabulary YAML file with dictionaries, patterns and claims; the inline fields extend it."
    })
  ),
  ...Vocabulary.fields
})

/** What `extract` returns; unpacked into the `entities`, `claims` and `findings` slots. */
export const ExtractOutputs = Schema.Struct({
  entities: Schema.Array(Entity),
  claims: Schema.Array(Claim),
  /** One per given chunk, in chunk order: the chunk with the entities and claims above that were found in it. */
  findings: Schema.Array(Finding)
})

const stageType = "core/core.extract"

/** `{ chunks, vocabulary?, dictionaries, patterns, claims }` → `{ entities, claims, findings }`. */
export const extract = defineStage({
  type: stageType,
  version: "1.2.0",
  description:
    "Finds entities (dictionary terms as whole words, regular expression patterns) and sentence-level claims between them in chunks; also lists them chunk by chunk, as findings.",
  plugin: "core",
  stateKey: ["entities", "claims", "findings"],
  output: "unpack",
  count: "length(entities) + length(claims)",
  dependencies: ["core/core.chunk"],
  timeout: 120_000,
  inputs: ExtractInputs,
  outputs: ExtractOutputs,
  run: ({ chunks, claims, dictionaries, patterns, vocabulary: file }) =>
    Effect.gen(function* () {
      const inline: VocabularyType = { dictionaries, patterns, claims }
      const inlineProblem = regexProblems(inline)[0]
      if (inlineProblem !== undefined) {
        return yield* new VocabularyError({ file: `${stageType} input`, path: inlineProblem.path, problem: inlineProblem.problem })
      }
      const vocabulary = file === undefined ? inline : mergeVocabularies(yield* loadVocabulary(resolve(file)), inline)
      const findEntities = makeEntityMatcher(vocabulary)
      const findClaims = makeClaimFinder(vocabulary)
      const findings: Array<Finding> = []
      const seen = new Set<string>()
      const firstTime = (key: string): boolean => {
        if (seen.has(key)) return false
        seen.add(key)
        return true
      }
      for (const chunk of chunks) {
        // What ends inside the shared prefix is wholly in the previous chunk, which reports it.
        const own = ({ end }: { readonly end: number }) => end > chunk.start + (chunk.overlap ?? 0)
        const mentions = findEntities(chunk)
        const entities = mentions.filter(
          (mention) => own(mention) && firstTime(`entity ${chunk.documentId} ${mention.id} ${mention.start} ${mention.end}`)
        )
        // Claims are found among all the chunk's mentions, owned or not, so a sentence gives the same claims in any chunk.
        const stated = findClaims(chunk, mentions).filter(
          (claim) => own(claim) && firstTime(`claim ${chunk.documentId} ${claim.predicate} ${claim.subject} ${claim.object} ${claim.start}`)
        )
        findings.push({ chunk, entities, claims: stated })
      }
      return {
        entities: findings.flatMap((finding) => finding.entities),
        claims: findings.flatMap((finding) => finding.claims),
        findings
      }
    })
})
