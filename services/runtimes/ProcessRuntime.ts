/**
 * The process runtime: runs one action of a trusted plugin in a fresh child
 * process (`node sdk/runner.ts <entry>`) in its own process group. The
 * request goes on stdin; the environment holds only PATH, the env names the
 * manifest declares (values from this process's environment) and
 * TRACEPARENT; each task gets a temporary working directory removed
 * afterwards. A timeout sends SIGTERM to the whole group, then SIGKILL after
 * a grace period, so grandchildren die too. Every way a process can end is
 * an `ProcessOutcome` value with metrics (duration, exit code, signal, peak
 * memory as `process.resourceUsage().maxRSS` reported by the runner in its
 * result frame, so it is absent when the process died without a result).
 * The child's stderr lines are forwarded as Effect logs annotated with the
 * run and task ids (structured JSON lines at their level, others as plain).
 */
import { spawn } from "node:child_process"
import { mkdtemp, rm } from "node:fs/promises"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { fileURLToPath } from "node:url"
import type { Duration } from "effect"
import { Cause, Clock, Deferred, Effect, Fiber, Option, Predicate, Queue, Result } from "effect"
import type { ActionError } from "../../sdk/defineAction.ts"
import { makeOutputCollector } from "./internal/outputCollector.ts"
import { parseResultFrame } from "./internal/resultFrame.ts"

/** Path of the SDK runner a plugin process starts with. */
// Sources run as .ts (type stripping), the built package as .js: the runner sits beside this module either way.
export const runnerPath: string = fileURLToPath(
  new URL(`../../sdk/runner.${import.meta.url.endsWith(".ts") ? "ts" : "js"}`, import.meta.url)
)

/** What `runInProcess` takes. */
export interface RunInProcessOptions {
  /** Path of the plugin module that exports its actions. */
  readonly entry: string
  readonly action: string
  readonly input: unknown
  readonly taskId: string
  readonly runId: string
  readonly attempt: number
  readonly vars: Readonly<Record<string, string>>
  /** Only the secrets the plugin's manifest declares. */
  readonly secrets: Readonly<Record<string, string>>
  /** Environment variable names the manifest allows; values come from `parentEnv`. */
  readonly env: ReadonlyArray<string>
  /** W3C trace context passed as TRACEPARENT. */
  readonly traceparent?: string
  readonly timeout: Duration.Input
  /** @default "2 seconds" */
  readonly killGrace?: Duration.Input
  /** Bytes of stdout accepted before the process is killed. @default 1048576 */
  readonly maxOutputBytes?: number
  /** Where declared env values are read from. @default process.env */
  readonly parentEnv?: Readonly<Record<string, string | undefined>>
}

/** Measurements of one plugin process. */
export interface ProcessMetrics {
  readonly durationMs: number
  readonly exitCode: number | null
  readonly signal: string | null
  /** Peak resident memory reported by the runner; null when the process gave no result. */
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

/** Default bytes of stdout accepted from a plugin process (1 MiB). */
export const defaultMaxOutputBytes = 1024 * 1024

const killGroup = (pid: number | undefined, signal: NodeJS.Signals): void => {
  if (pid === undefined) return
  // ESRCH: the group is already gone, which is what we want.
  Result.try(() => process.kill(-pid, signal))
}

const logLevels = { info: Effect.logInfo, warn: Effect.logWarning, error: Effect.logError } as const

const forwardLine = (line: string): Effect.Effect<void> => {
  const parsed = Result.try(() => JSON.parse(line) as unknown)
  if (Result.isSuccess(parsed) && Predicate.isObject(parsed.success) && Predicate.hasProperty(parsed.success, "message")) {
    const { level, message, ...fields } = parsed.success as Record<string, unknown>
    const log = Predicate.isString(level) && level in logLevels ? logLevels[level as keyof typeof logLevels] : Effect.logInfo
    return log(String(message)).pipe(Effect.annotateLogs({ ...fields, source: "plugin" }))
  }
  return Effect.logInfo(line).pipe(Effect.annotateLogs({ source: "plugin", plain: true }))
}

const withTail = (text: string, tail: ReadonlyArray<string>): string => (tail.length === 0 ? text : `${text}; stderr:\n${tail.join("\n")}`)

/** Runs one action in a fresh plugin process; every ending is an outcome, never a failure. */
export const runInProcess = Effect.fn("ProcessRuntime.runInProcess")(function* (options: RunInProcessOptions) {
  return yield* Effect.scoped(
    Effect.gen(function* () {
      const workDir = yield* Effect.acquireRelease(
        Effect.promise(() => mkdtemp(join(tmpdir(), "switchyard-task-"))),
        (dir) => Effect.promise(() => rm(dir, { recursive: true, force: true }))
      )
      const parentEnv = options.parentEnv ?? process.env
      const env: Record<string, string> = {}
      if (parentEnv.PATH !== undefined) env.PATH = parentEnv.PATH
      for (const name of options.env) {
        const value = parentEnv[name]
        if (value !== undefined) env[name] = value
      }
      if (options.traceparent !== undefined) env.TRACEPARENT = options.traceparent
      const request = JSON.stringify({
        version: 1,
        action: options.action,
        input: options.input,
        taskId: options.taskId,
        runId: options.runId,
        attempt: options.attempt,
        vars: options.vars,
        secrets: options.secrets,
        workDir
      })

      const lines = yield* Queue.unbounded<string, Cause.Done>()
      const forwarder = yield* Queue.take(lines).pipe(
        Effect.flatMap(forwardLine),
        Effect.forever,
        Effect.ignore,
        Effect.annotateLogs({ runId: options.runId, taskId: options.taskId }),
        Effect.forkChild
      )
      const closed = yield* Deferred.make<{ code: number | null; signal: string | null }>()
      const exited = yield* Deferred.make<{ code: number | null; signal: string | null }>()
      const killGrace = options.killGrace ?? "2 seconds"
      const started = yield* Clock.currentTimeMillis

      const child = yield* Effect.acquireRelease(
        Effect.sync(() => {
          const child = spawn(process.execPath, [runnerPath, options.entry], {
            cwd: workDir,
            env,
            detached: true,
            stdio: ["pipe", "pipe", "pipe"]
          })
          const collector = makeOutputCollector({
            maxOutputBytes: options.maxOutputBytes ?? defaultMaxOutputBytes,
            onOverflow: () => killGroup(child.pid, "SIGKILL"),
            onLine: (line) => Queue.offerUnsafe(lines, line)
          })
          child.stdout.on("data", collector.onStdout)
          child.stderr.on("data", collector.onStderr)
          // The process may exit before reading its request; that is reported by its exit, not here.
          child.stdin.on("error", () => {})
          child.stdin.end(request)
          // Leftover group members would hold the pipes open; the task is over when the leader exits.
          child.on("exit", (code, signal) => {
            killGroup(child.pid, "SIGKILL")
            Deferred.doneUnsafe(exited, Effect.succeed({ code, signal }))
          })
          child.on("error", () => {
            Deferred.doneUnsafe(exited, Effect.succeed({ code: null, signal: null }))
            Deferred.doneUnsafe(closed, Effect.succeed({ code: null, signal: null }))
          })
          child.on("close", (code, signal) => {
            collector.finish()
            Deferred.doneUnsafe(closed, Effect.succeed({ code, signal }))
          })
          return { child, collector }
        }),
        ({ child }) => Effect.sync(() => killGroup(child.pid, "SIGKILL"))
      )

      // A process that escaped the group (its own session) may hold the pipes open after the
      // leader exited; the task still ends one grace period after the exit.
      const waitClosed = Deferred.await(exited).pipe(
        Effect.flatMap((exit) =>
          Deferred.await(closed).pipe(
            Effect.timeoutOption(killGrace),
            Effect.map(
              Option.getOrElse(() => {
                child.child.stdout.destroy()
                child.child.stderr.destroy()
                child.collector.finish()
                return exit
              })
            )
          )
        )
      )
      const first = yield* Effect.timeoutOption(waitClosed, options.timeout)
      const timedOut = Option.isNone(first)
      const { code, signal } = Option.isSome(first)
        ? first.value
        : yield* Effect.gen(function* () {
            killGroup(child.child.pid, "SIGTERM")
            const graceful = yield* Effect.timeoutOption(waitClosed, killGrace)
            if (Option.isSome(graceful)) return graceful.value
            killGroup(child.child.pid, "SIGKILL")
            return yield* waitClosed
          })
      const durationMs = (yield* Clock.currentTimeMillis) - started
      yield* Queue.end(lines)
      yield* Fiber.join(forwarder)

      const tail = child.collector.stderrTail()
      const frame = parseResultFrame(child.collector.stdout())
      const metrics: ProcessMetrics = {
        durationMs,
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

      if (timedOut) {
        return failed({
          tag: "StageTimeoutError",
          message: `${options.action} timed out`,
          retryable: true,
          ...exitFields
        })
      }
      if (child.collector.overflowed()) {
        return failed({
          tag: "OutputTooLargeError",
          message: `${options.action} wrote more than ${options.maxOutputBytes ?? defaultMaxOutputBytes} bytes to stdout`,
          retryable: false,
          ...exitFields
        })
      }
      if (signal !== null) {
        return failed({
          tag: "ProcessSignalError",
          message: withTail(`${options.action} was killed by ${signal}`, tail),
          retryable: true,
          ...exitFields
        })
      }
      if (code !== 0) {
        return failed({
          tag: "ProcessExitError",
          message: withTail(`${options.action} exited with code ${code}`, tail),
          retryable: true,
          ...exitFields
        })
      }
      if (Result.isFailure(frame)) {
        return failed({
          tag: "InvalidOutputError",
          message: `${options.action}: ${frame.failure}`,
          retryable: false,
          ...exitFields
        })
      }
      const result = frame.success.result
      return result.status === "succeeded"
        ? ({ status: "succeeded", output: result.output, metrics } satisfies ProcessOutcome)
        : failed({ ...result.error, ...exitFields })
    })
  )
})
