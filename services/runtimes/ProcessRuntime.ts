/**
 * The process runtime: runs one action of a trusted plugin in a fresh child
 * process (`node sdk/runner.ts <entry>`) in its own process group. The
 * request goes on stdin; the environment holds only PATH, the env names the
 * manifest declares (values from this process's environment) and
 * TRACEPARENT; each task gets a temporary working directory removed
 * afterwards. A timeout sends SIGTERM to the whole group, then SIGKILL after
 * a grace period, so grandchildren die too; when the task ends, any
 * process left that carries the task's `SWITCHYARD_PROCESS_TOKEN` (a
 * descendant that started a session of its own) is killed as well. Every way a process can end is
 * an `ProcessOutcome` value with metrics (duration, exit code, signal, peak
 * memory as `process.resourceUsage().maxRSS` reported by the runner in its
 * result frame, so it is absent when the process died without a result).
 * The child's stderr lines are forwarded as Effect logs annotated with the
 * run and task ids (structured JSON lines at their level, others as plain).
 */
import { spawn } from "node:child_process"
import { fileURLToPath } from "node:url"
import type { Duration } from "effect"
import { Clock, Deferred, Effect, Option } from "effect"
import { actionRequest } from "./internal/actionRequest.ts"
import { pluginEnvironment } from "./internal/environment.ts"
import { makeLogForwarder } from "./internal/logForwarder.ts"
import { classifyEnding } from "./internal/outcome.ts"
import { makeOutputCollector } from "./internal/outputCollector.ts"
import { killGroup, killMarked, newProcessToken, processTokenVariable } from "./internal/processGroup.ts"
import { parseResultFrame } from "./internal/resultFrame.ts"
import { taskWorkDir } from "./internal/workDir.ts"

export type { ProcessFailure, ProcessMetrics, ProcessOutcome } from "./internal/outcome.ts"

/** Path of the runner a plugin process starts with: the one of the `@switchyard/sdk` this runtime depends on. */
export const runnerPath: string = fileURLToPath(import.meta.resolve("@switchyard/sdk/runner"))

/**
 * What `node` runs for a plugin process, before the runner's own arguments.
 * A runner resolved to its TypeScript sources (this repository's workspaces)
 * resolves the other Switchyard packages to their sources as well.
 */
export const runnerArgs: ReadonlyArray<string> = runnerPath.endsWith(".ts") ? ["--conditions=@switchyard/source", runnerPath] : [runnerPath]

/** One task for a plugin process: which action, its input, and who it runs for. */
export interface PluginTask {
  readonly action: string
  readonly input: unknown
  readonly taskId: string
  readonly runId: string
  readonly attempt: number
  readonly vars: Readonly<Record<string, string>>
  /** Only the secrets the plugin's manifest declares. */
  readonly secrets: Readonly<Record<string, string>>
  /** W3C trace context passed as TRACEPARENT. */
  readonly traceparent?: string
  readonly timeout: Duration.Input
}

/** How plugin processes are started and bounded, for one plugin. */
export interface PluginProcessOptions {
  /** Path of the plugin module that exports its actions. */
  readonly entry: string
  /** Environment variable names the manifest allows; values come from `parentEnv`. */
  readonly env: ReadonlyArray<string>
  /** @default "2 seconds" */
  readonly killGrace?: Duration.Input
  /** Bytes of stdout accepted per task before the process is killed. @default 1048576 */
  readonly maxOutputBytes?: number
  /** Where declared env values are read from. @default process.env */
  readonly parentEnv?: Readonly<Record<string, string | undefined>>
}

/** What `runInProcess` takes. */
export interface RunInProcessOptions extends PluginTask, PluginProcessOptions {}

/** Default bytes of stdout accepted from a plugin process (1 MiB). */
export const defaultMaxOutputBytes = 1024 * 1024

/** Default time between SIGTERM and SIGKILL. */
export const defaultKillGrace: Duration.Input = "2 seconds"

/** Runs one action in a fresh plugin process; every ending is an outcome, never a failure. */
export const runInProcess = Effect.fn("ProcessRuntime.runInProcess")(function* (options: RunInProcessOptions) {
  return yield* Effect.scoped(
    Effect.gen(function* () {
      const workDir = yield* taskWorkDir
      const token = newProcessToken()
      const env = {
        ...pluginEnvironment({ names: options.env, parentEnv: options.parentEnv ?? process.env, traceparent: options.traceparent }),
        [processTokenVariable]: token
      }
      const request = JSON.stringify(actionRequest(options, workDir))

      const forwarder = yield* makeLogForwarder({ runId: options.runId, taskId: options.taskId })
      const closed = yield* Deferred.make<{ code: number | null; signal: string | null }>()
      const exited = yield* Deferred.make<{ code: number | null; signal: string | null }>()
      const killGrace = options.killGrace ?? defaultKillGrace
      const maxOutputBytes = options.maxOutputBytes ?? defaultMaxOutputBytes
      const started = yield* Clock.currentTimeMillis

      const child = yield* Effect.acquireRelease(
        Effect.sync(() => {
          const child = spawn(process.execPath, [...runnerArgs, options.entry], {
            cwd: workDir,
            env,
            detached: true,
            stdio: ["pipe", "pipe", "pipe"]
          })
          const collector = makeOutputCollector({
            maxOutputBytes,
            onOverflow: () => killGroup(child.pid, "SIGKILL"),
            onLine: forwarder.offer
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
        // Whatever the ending, every process of the task goes with it: its group, and those that left it.
        ({ child }) => Effect.sync(() => killGroup(child.pid, "SIGKILL")).pipe(Effect.andThen(Effect.promise(() => killMarked(token))))
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
      const exit = Option.isSome(first)
        ? first.value
        : yield* Effect.gen(function* () {
            killGroup(child.child.pid, "SIGTERM")
            const graceful = yield* Effect.timeoutOption(waitClosed, killGrace)
            if (Option.isSome(graceful)) return graceful.value
            killGroup(child.child.pid, "SIGKILL")
            return yield* waitClosed
          })
      const durationMs = (yield* Clock.currentTimeMillis) - started
      yield* forwarder.drain

      return classifyEnding({
        action: options.action,
        durationMs,
        timedOut: Option.isNone(first),
        overflowedAt: child.collector.overflowed() ? maxOutputBytes : undefined,
        exit,
        frame: parseResultFrame(child.collector.stdout()),
        stderrTail: child.collector.stderrTail()
      })
    })
  )
})
