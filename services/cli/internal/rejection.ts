/**
 * How `switchyard run` reports a pipeline it refuses before anything runs:
 * every issue as a `file:line:column: ...` line on stderr and, with `--json`,
 * one `pipeline.invalid` object on stdout (the same place the run's events
 * would have gone), so a script reading stdout learns why there are none.
 */
import { Console, Effect, Schema } from "effect"
import { PipelineIssue } from "@switchyard/schemas/Run"
import { formatIssue } from "../../scheduler/index.ts"

const encodeIssues = Schema.encodeSync(Schema.Array(PipelineIssue))

/** Prints why the pipeline `file` was refused; `text` replaces the issue lines on stderr. */
export const reportRejection = (options: {
  readonly file: string
  readonly json: boolean
  readonly issues: ReadonlyArray<PipelineIssue>
  readonly text?: string
}): Effect.Effect<void> =>
  Effect.gen(function* () {
    yield* Console.error(options.text ?? options.issues.map(formatIssue).join("\n"))
    if (options.json) {
      const line = JSON.stringify({ kind: "pipeline.invalid", file: options.file, issues: encodeIssues(options.issues) })
      yield* Effect.sync(() => void process.stdout.write(`${line}\n`))
    }
  })
