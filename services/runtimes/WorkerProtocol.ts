/**
 * The wire between a warm pool and a long-lived plugin process (the runner
 * started with `serveFlag`). Requests arrive on stdin one JSON line at a
 * time; each gets one framed result line on stdout (`resultFrameMarker`, as
 * in one-shot mode). On stderr, `ctx.log` lines are tagged with their task
 * id, and after each result the worker writes an end-of-task line, so the
 * pool knows every stderr line of the task has arrived (stdout and stderr
 * are separate pipes and may be read in any interleaving). Other stderr
 * lines (plain writes, grandchildren) belong to the task running at the time.
 */
import { Result, Schema } from "effect"
import { ActionRequest } from "../../sdk/defineAction.ts"

/** The runner argument that selects the long-lived mode: `runner.ts --serve <entry>`. */
export const serveFlag = "--serve"

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

/** Prefix of the stderr line that ends a task's output: marker, then the task id (URI-encoded). */
export const taskEndMarker = "\u001eswitchyard-end "

/** A `ctx.log` line tagged with its task id. */
export const tagLogLine = (taskId: string, line: string): string => `${taskLogMarker}${encodeURIComponent(taskId)} ${line}`

/** The end-of-task line of a task, without its newline. */
export const taskEndLine = (taskId: string): string => `${taskEndMarker}${encodeURIComponent(taskId)}`

/** A stderr line as the pool reads it. */
export type WorkerLine =
  | { readonly _tag: "Log"; readonly taskId: string; readonly line: string }
  | { readonly _tag: "End"; readonly taskId: string }
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
  if (line.startsWith(taskEndMarker)) return { _tag: "End", taskId: decodeId(line.slice(taskEndMarker.length)) }
  return { _tag: "Plain", line }
}
