/**
 * How a task in a plugin process ended, as a value: the outcome and failure
 * shapes shared by the one-shot runtime and the warm pool, and the one
 * classification of an ending (timeout, oversized output, death by signal,
 * non-zero exit, missing or invalid result frame, the action's own result).
 */
import { Result } from "effect"
import type { ActionError, ResultFrame } from "@switchyard/schemas/WorkerProtocol"

/** Measurements of one plugin task. */
export interface ProcessMetrics {
  readonly durationMs: number
  /** The process's exit code; null while it is alive (a warm pool worker) or when a signal ended it. */
  readonly exitCode: number | null
  readonly signal: string | null
  /**
   * Peak resident memory of the process reported by the runner in its result
   * (`process.resourceUsage().maxRSS`: the high-water mark since the process
   * started, so for a warm pool worker it covers every task it served so
   * far); null when the process gave no result.
   */
  readonly peakMemoryBytes: number | null
}

/** Why a task in a plugin process failed. */
export interface ProcessFailure extends ActionError {
  readonly exitCode?: number
  readonly signal?: string
  /** The last lines of the process's stderr. */
  readonly stderrTail?: ReadonlyArray<string>
}

/** How one task in a plugin process ended. */
export type ProcessOutcome =
  | { readonly status: "succeeded"; readonly output: unknown; readonly metrics: ProcessMetrics }
  | { readonly status: "failed"; readonly error: ProcessFailure; readonly metrics: ProcessMetrics }

/** What is known when a task has ended. */
export interface TaskEnding {
  readonly action: string
  readonly durationMs: number
  readonly timedOut: boolean
  /** The output limit (stdout and the result frame), when it was passed. */
  readonly overflowedAt: number | undefined
  /** How the process exited; undefined when it is still alive. */
  readonly exit: { readonly code: number | null; readonly signal: string | null } | undefined
  readonly frame: Result.Result<ResultFrame, string>
  readonly stderrTail: ReadonlyArray<string>
}

const withTail = (text: string, tail: ReadonlyArray<string>): string => (tail.length === 0 ? text : `${text}; stderr:\n${tail.join("\n")}`)

/** The outcome of an ended task; a timeout wins over everything, the action's own result comes last. */
export const classifyEnding = (ending: TaskEnding): ProcessOutcome => {
  const { action, exit, frame } = ending
  const code = exit?.code ?? null
  const signal = exit?.signal ?? null
  const tail = ending.stderrTail
  const metrics: ProcessMetrics = {
    durationMs: ending.durationMs,
    exitCode: code,
    signal,
    peakMemoryBytes: Result.isSuccess(frame) ? (frame.success.peakMemoryBytes ?? null) : null
  }
  const failed = (error: ProcessFailure): ProcessOutcome => ({ status: "failed", error, metrics })
  const exitFields = {
    ...(code === null ? {} : { exitCode: code }),
    ...(signal === null ? {} : { signal }),
    stderrTail: tail
  }

  if (ending.timedOut) {
    return failed({ tag: "StageTimeoutError", message: `${action} timed out`, retryable: true, ...exitFields })
  }
  if (ending.overflowedAt !== undefined) {
    return failed({
      tag: "OutputTooLargeError",
      message: `${action} wrote more than ${ending.overflowedAt} bytes of output (its result and whatever it printed to stdout)`,
      retryable: false,
      ...exitFields
    })
  }
  if (exit !== undefined && signal !== null) {
    return failed({
      tag: "ProcessSignalError",
      message: withTail(`${action} was killed by ${signal}`, tail),
      retryable: true,
      ...exitFields
    })
  }
  if (exit !== undefined && code !== 0) {
    return failed({
      tag: "ProcessExitError",
      message: withTail(`${action} exited with code ${code}`, tail),
      retryable: true,
      ...exitFields
    })
  }
  if (Result.isFailure(frame)) {
    return failed({ tag: "InvalidOutputError", message: `${action}: ${frame.failure}`, retryable: false, ...exitFields })
  }
  const result = frame.success.result
  return result.status === "succeeded"
    ? { status: "succeeded", output: result.output, metrics }
    : failed({ ...result.error, ...exitFields })
}
