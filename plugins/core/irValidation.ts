/**
 * `core/core.ir-validation`: checks a list of parsed documents against the
 * Document IR's rules (schema, unique ids, non-empty text, offsets, paragraph
 * text, section nesting) and passes the list on unchanged when it holds, so
 * it can be mapped over documents like `parse`. When it does not, the stage
 * fails for good with one message listing every violation by path, such as
 * `documents[0].sections[1].paragraphs[2].end: 912 is past the end of the text (880)`.
 */
import { Effect, Schema } from "effect"
import { defineStage, StageError } from "@switchyard/sdk"
import { Document } from "@switchyard/schemas/DocumentIR"
import { validateCorpus } from "./internal/irViolations.ts"

/** `{ documents: Document[] }` → the same `Document[]`, once every rule holds. */
export const irValidation = defineStage({
  type: "core/core.ir-validation",
  version: "2.0.0",
  description: "Checks a list of parsed documents against the Document IR rules and passes it on, or lists every violation by path.",
  plugin: "core",
  stateKey: "documents",
  output: "set",
  count: "length",
  dependencies: ["core/core.parse"],
  // Taken as it comes, so that malformed documents are reported in full here rather than as the first input error.
  inputs: Schema.Struct({
    documents: Schema.Unknown.annotate({ description: "The documents core.parse produced (all of them, or a batch): Document[]." })
  }),
  outputs: Schema.Array(Document),
  run: ({ documents }) => {
    const result = validateCorpus({ documents })
    if (result._tag === "Valid") return Effect.succeed(result.corpus.documents)
    const lines = result.violations.map(({ message, path }) => `  ${path === "" ? "the input" : path}: ${message}`)
    const count = result.violations.length
    return Effect.fail(
      new StageError({
        message: `core.ir-validation: ${count} ${count === 1 ? "violation" : "violations"} of the Document IR:\n${lines.join("\n")}`,
        retryable: false
      })
    )
  }
})
