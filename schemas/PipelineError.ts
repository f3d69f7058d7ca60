/**
 * The error a pipeline that fails to load or validate produces: every issue
 * names the file, line, column, stage and field, and says what was expected.
 */
import { Schema } from "effect"
import { PipelineIssue } from "./Run.ts"
import { formatPositioned } from "./YamlDocument.ts"

/** A pipeline was rejected before anything ran. */
export class PipelineInvalidError extends Schema.TaggedError<PipelineInvalidError>()("PipelineInvalidError", {
  file: Schema.String,
  issues: Schema.Array(PipelineIssue)
}) {
  get isRetryable(): boolean {
    return false
  }
  override get message(): string {
    return this.issues.map(formatIssue).join("\n")
  }
}

/** `file:line:column: stage "x": path: message`. */
export const formatIssue = (issue: PipelineIssue): string => formatPositioned(issue)
