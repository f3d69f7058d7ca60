/**
 * The wire between the process runtime and a plugin process. One-shot mode:
 * the runner reads one `ActionRequest` on stdin and writes one framed
 * `ResultFrame` line on stdout. Long-lived mode (the runner started with
 * `serveFlag`, a warm pool's worker): Requests arrive on stdin one JSON line at a
 * time. Everything the worker says comes on stderr, in order: a task's
 * `ctx.log` lines tagged with its task id, then one framed result line
 * (`resultFrameMarker` + JSON, as one-shot mode writes on stdout), which
 * also tells the pool that every stderr line the worker wrote for the task
 * has arrived. Other stderr lines (plain writes, grandchildren) belong to
 * the task running at the time; stdout carries only the plugin's own prints,
 * which the pool ignores but counts against the output limit.
 */
import { Result, Schema } from "effect"

/** Prefix of the one stdout line that carries the result; other stdout lines are ignored. */
export const resultFrameMarker = "\u001eswitchyard-result "

/** The request a plugin process reads from stdin (one JSON document). */
export const ActionRequest = Schema.Struct({
  version: Schema.Literal(1),
  action: Schema.String,
  input: Schema.Unknown,
  taskId: Schema.String,
  runId: Schema.String,
  attempt: Schema.Number,
  vars: Schema.Record(Schema.String, Schema.String),
  secrets: Schema.Record(Schema.String, Schema.String),
  workDir: Schema.String
})
/** The request a plugin process reads from stdin. */
export type ActionRequest = typeof ActionRequest.Type

/** Why an action failed, as it crosses the process boundary. */
export const ActionError = Schema.Struct({
  tag: Schema.String,
  message: Schema.String,
  retryable: Schema.Boolean
})
/** Why an action failed. */
export type ActionError = typeof ActionError.Type

/** Prefix of the one stdout line that carries `runner --describe`'s answer. */
export const describeFrameMarker = "\u001eswitchyard-actions "

/** One exported action as `runner --describe` reports it: its name and the JSON Schemas derived from its effect schemas. */
export const ActionDescription = Schema.Struct({
  name: Schema.String,
  inputs: Schema.Record(Schema.String, Schema.Json),
  outputs: Schema.Record(Schema.String, Schema.Json)
})
/** One exported action as `runner --describe` reports it. */
export type ActionDescription = typeof ActionDescription.Type

/** What `runner --describe <module>` writes: the module's actions, or why it could not be imported. */
export const ModuleDescription = Schema.Union([
  Schema.Struct({ status: Schema.Literal("described"), actions: Schema.Array(ActionDescription) }),
  Schema.Struct({ status: Schema.Literal("failed"), error: ActionError })
])
/** What `runner --describe <module>` writes. */
export type ModuleDescription = typeof ModuleDescription.Type

/** The result of one action run: its JSON output, or why it failed. */
export const ActionResult = Schema.Union([
  Schema.Struct({ status: Schema.Literal("succeeded"), output: Schema.Unknown }),
  Schema.Struct({ status: Schema.Literal("failed"), error: ActionError })
])
/** The result of one action run. */
export type ActionResult = typeof ActionResult.Type

/** The framed result line with the runner's own measurements. */
export const ResultFrame = Schema.Struct({
  result: ActionResult,
  /** `process.resourceUsage().maxRSS` of the plugin process, in bytes. */
  peakMemoryBytes: Schema.optional(Schema.Number)
})
/** The framed result line. */
export type ResultFrame = typeof ResultFrame.Type

/** The runner argument that selects the long-lived mode: `runner.ts --serve <entry>`. */
export const serveFlag = "--serve"

/** The runner argument that selects the describe mode: `runner.ts --describe <entry>` (see `sdk/runner.ts`). */
export const describeFlag = "--describe"

/** One request line: the action request and the task's trace context. */
export const WorkerRequest = Schema.Struct({
  request: ActionRequest,
  /** W3C trace context, set as TRACEPARENT while the task runs. */
  traceparent: Schema.optionalKey(Schema.String)
})
/** One request line. */
export type WorkerRequest = typeof WorkerRequest.Type

/** Prefix of a stderr line written by `ctx.log`: marker, task id (URI-encoded, so without spaces), a space, the line. */
export const taskLogMarker = "\u001eswitchyard-log "

/** A `ctx.log` line tagged with its task id. */
export const tagLogLine = (taskId: string, line: string): string => `${taskLogMarker}${encodeURIComponent(taskId)} ${line}`

/** A stderr line as the pool reads it. */
export type WorkerLine =
  | { readonly _tag: "Log"; readonly taskId: string; readonly line: string }
  | { readonly _tag: "Frame"; readonly frame: string }
  | { readonly _tag: "Plain"; readonly line: string }

// A plugin may print anything, a malformed marker included.
const decodeId = (text: string): string =>
  Result.getOrElse(
    Result.try(() => decodeURIComponent(text)),
    () => text
  )

/** Reads one stderr line of a worker. */
export const readWorkerLine = (line: string): WorkerLine => {
  if (line.startsWith(taskLogMarker)) {
    const rest = line.slice(taskLogMarker.length)
    const space = rest.indexOf(" ")
    return space === -1 ? { _tag: "Plain", line } : { _tag: "Log", taskId: decodeId(rest.slice(0, space)), line: rest.slice(space + 1) }
  }
  if (line.startsWith(resultFrameMarker)) return { _tag: "Frame", frame: line }
  return { _tag: "Plain", line }
}
