/**
 * The wire between a warm pool and a long-lived plugin process (the runner
 * started with `serveFlag`). Requests arrive on stdin one JSON line at a
 * time. Everything the worker says comes on stderr, in order: a task's
 * `ctx.log` lines tagged with its task id, then one framed result line
 * (`resultFrameMarker` + JSON, as one-shot mode writes on stdout), which
 * also tells the pool that every stderr line the worker wrote for the task
 * has arrived. Other stderr lines (plain writes, grandchildren) belong to
 * the task running at the time; stdout carries only the plugin's own prints,
 * which the pool ignores but counts against the output limit.
 */
import { Result, Schema } from "effect"
import { ActionRequest, resultFrameMarker } from "../../sdk/defineAction.ts"

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
