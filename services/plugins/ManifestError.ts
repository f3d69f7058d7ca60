/**
 * The error a plugin manifest that fails to load produces: every issue names
 * the file, line, column and field path, what was expected and what was found.
 */
import { Schema } from "effect"
import { formatPositioned } from "@switchyard/schemas/YamlDocument"

/** One problem in a manifest, at a position in its file. */
export class ManifestIssue extends Schema.Class<ManifestIssue>("switchyard/ManifestIssue")({
  file: Schema.String,
  line: Schema.Int,
  column: Schema.Int,
  /** Dotted field path such as `stages[0].count`; empty for the whole document. */
  path: Schema.String,
  message: Schema.String
}) {}

/** A plugin manifest was refused. */
export class ManifestError extends Schema.TaggedError<ManifestError>()("ManifestError", {
  file: Schema.String,
  issues: Schema.Array(ManifestIssue)
}) {
  get isRetryable(): boolean {
    return false
  }
  override get message(): string {
    return this.issues.map(formatManifestIssue).join("\n")
  }
}

/** `file:line:column: path: message`. */
export const formatManifestIssue = (issue: ManifestIssue): string => formatPositioned(issue)
