/**
 * `core/core.ir-validation`: checks a parsed corpus against the Document IR's
 * rules (schema, non-empty text, offsets, paragraph text, section nesting)
 * and passes it on unchanged when it holds. When it does not, the stage fails
 * for good with one message listing every violation by path, such as
 * `documents[0].sections[1].paragraphs[2].end: 912 is past the end of the text (880)`.
 */
import { Effect, Schema } from "effect"
import { defineStage, StageError } from "@switchyard/sdk"
import { Corpus } from "@switchyard/schemas/DocumentIR"
import { validateCorpus } from "./internal/irViolations.ts"

/** Validates the corpus `core.parse` produced and passes it on. */
export const irValidation = defineStage({
  type: "core/core.ir-validation",
  version: "1.0.0",
  description: "Checks parsed documents against the Document IR rules and passes them on, or lists every violation by path.",
  plugin: "core",
  stateKey: "document",
  output: "set",
  count: "one",
  dependencies: ["core/core.parse"],
  // Taken as it comes, so that a malformed corpus is reported in full here rather than as the first input error.
  inputs: Schema.Struct({
    document: Schema.Unknown.annotate({ description: "The corpus core.parse produced: { documents: Document[] }." })
  }),
  outputs: Corpus,
  run: ({ document }) => {
    const result = validateCorpus(document)
    if (result._tag === "Valid") return Effect.succeed(result.corpus)
    const lines = result.violations.map(({ message, path }) => `  ${path === "" ? "the corpus" : path}: ${message}`)
    const count = result.violations.length
    return Effect.fail(
      new StageError({
        message: `core.ir-validation: ${count} ${count === 1 ? "violation" : "violations"} of the Document IR:\n${lines.join("\n")}`,
        retryable: false
      })
    )
  }
})
