/**
 * The warm pool of the process runtime: long-lived plugin processes (`node
 * sdk/runner.ts --serve <entry>`, see `WorkerProtocol.ts`) that run many
 * tasks of one trusted plugin one after another, instead of a fresh process
 * per task. At most `size` workers run tasks at once (a retired one may still
 * be exiting); one is started when a task finds none idle, and tasks beyond
 * `size` wait for a free one. Each worker leads its own process group and
 * has the one-shot environment (PATH and the declared names; a task's
 * TRACEPARENT comes with its request). Per task the pool hands out a fresh,
 * empty work directory (in a temporary directory of the pool's own; its
 * path is gone moments after the task ends, see `workDir.ts`) and forwards
 * the task's stderr lines as logs annotated with its run and task ids. A
 * task's path is kept short: no scope, fiber, race or timer of its own (its
 * timeout is one of the pool's `Deadlines`), and its log lines go to one
 * forwarder of the pool's, waited for only when the task wrote some.
 *
 * A worker that fails a task at the process level is never reused: a timeout
 * sends SIGTERM to its group, then SIGKILL after the grace period; output
 * over the limit (stdout and the result frame together) kills the group at
 * once; a worker that dies mid-task fails the task with its exit code or
 * signal and the last stderr lines. The next task then starts a new worker.
 * After `maxTasksPerProcess` tasks a worker is retired (its stdin closed, so
 * it exits). Outcomes are the one-shot runtime's
 * `ProcessOutcome` values; while a worker lives its exit code is null, and
 * its peak memory is the worker's high-water mark since it started. Closing
 * the pool's scope kills every worker's group and removes its directory.
 */
import { spawn } from "node:child_process"
import type { ChildProcessByStdio } from "node:child_process"
import { tmpdir } from "node:os"
import type { Readable, Writable } from "node:stream"
import { Clock, Deferred, Duration, Effect, Exit, Option, Result, Semaphore } from "effect"
import { Deadlines } from "@switchyard/bus/timers/index"
import { resultFrameMarker } from "@switchyard/schemas/WorkerProtocol"
import { actionRequest } from "./internal/actionRequest.ts"
import { pluginEnvironment } from "./internal/environment.ts"
import { makeLineSplitter, makeTail } from "./internal/lines.ts"
import type { Tail } from "./internal/lines.ts"
import { makeLogForwarder } from "./internal/logForwarder.ts"
import { classifyEnding } from "./internal/outcome.ts"
import type { ProcessOutcome } from "./internal/outcome.ts"
import { killGroup, killMarked, newProcessToken, processTokenVariable } from "./internal/processGroup.ts"
import { parseResultFrame } from "./internal/resultFrame.ts"
import { makeWorkDirs } from "./internal/workDir.ts"
import type { PluginProcessOptions, PluginTask } from "./ProcessRuntime.ts"
import { defaultKillGrace, defaultMaxOutputBytes, runnerArgs } from "./ProcessRuntime.ts"
import type { WorkerRequest } from "@switchyard/schemas/WorkerProtocol"
import { readWorkerLine, serveFlag } from "@switchyard/schemas/WorkerProtocol"

/** What `makeProcessPool` takes. */
export interface ProcessPoolOptions extends PluginProcessOptions {
  /** Most workers alive at once, and so most tasks running at once. */
  readonly size: number
  /** Tasks a worker runs before it is retired and replaced. @default unlimited */
  readonly maxTasksPerProcess?: number
}

/** A warm pool of one plugin's processes. */
export interface ProcessPool {
  /** Runs one task on an idle worker (starting one if there is room, else waiting for one); never fails. */
  readonly run: (task: PluginTask) => Effect.Effect<ProcessOutcome>
}

interface ProcessExit {
  readonly code: number | null
  readonly signal: string | null
}

/** How a task's wait ended: answered (`undefined`) or the worker's exit before the timeout, none at the timeout. */
type Ending = Option.Option<ProcessExit | undefined>

/** What a worker knows about the task it is running. */
interface TaskState {
  readonly taskId: string
  readonly annotations: Readonly<Record<string, string>>
  readonly tail: Tail
  /** Bytes of plain stdout so far. */
  stdoutBytes: number
  overflowed: boolean
  frame: string | undefined
  /** Whether a line of the task went to the log forwarder. */
  logged: boolean
  /** Ends the task's wait; set while it waits. */
  resume: ((ending: Effect.Effect<Ending>) => void) | undefined
}

interface Worker {
  readonly child: ChildProcessByStdio<Writable, Readable, Readable>
  readonly exited: Deferred.Deferred<ProcessExit>
  readonly closed: Deferred.Deferred<void>
  exit: ProcessExit | undefined
  tasks: number
  current: TaskState | undefined
}

/** Starts a pool whose workers live until the scope closes. */
export const makeProcessPool = Effect.fn("ProcessPool.make")(function* (options: ProcessPoolOptions) {
  const killGrace = options.killGrace ?? defaultKillGrace
  const maxOutputBytes = options.maxOutputBytes ?? defaultMaxOutputBytes
  const maxTasks = options.maxTasksPerProcess ?? Number.POSITIVE_INFINITY
  const env = pluginEnvironment({ names: options.env, parentEnv: options.parentEnv ?? process.env })
  const permits = yield* Semaphore.make(Math.max(1, options.size))
  const workDirs = yield* makeWorkDirs
  const idle: Array<Worker> = []
  const live = new Set<Worker>()
  let closing = false
  // One forwarder for the pool: a task's lines carry its ids, lines no running task claims (a worker's own
  // output between tasks, a finished task's late log) the plugin's entry only.
  const logs = yield* makeLogForwarder({ entry: options.entry })
  const clock = yield* Clock.Clock
  const deadlines = new Deadlines(clock)
  yield* Effect.forkScoped(deadlines.timer.run)

  // Kills the worker of a task whose output passed the limit; its exit then ends the task.
  const overflow = (worker: Worker, task: TaskState) => {
    task.overflowed = true
    killGroup(worker.child.pid, "SIGKILL")
  }

  const spawnWorker = (): Worker => {
    const token = newProcessToken()
    const child = spawn(process.execPath, [...runnerArgs, serveFlag, options.entry], {
      cwd: tmpdir(),
      env: { ...env, [processTokenVariable]: token },
      detached: true,
      stdio: ["pipe", "pipe", "pipe"]
    })
    const worker: Worker = {
      child,
      exited: Deferred.makeUnsafe<ProcessExit>(),
      closed: Deferred.makeUnsafe<void>(),
      exit: undefined,
      tasks: 0,
      current: undefined
    }
    live.add(worker)
    const stderr = makeLineSplitter((text) => {
      if (text === "") return
      const line = readWorkerLine(text)
      const task = worker.current
      if (line._tag === "Frame") {
        if (task === undefined || task.overflowed || task.frame !== undefined) return
        if (task.stdoutBytes + Buffer.byteLength(line.frame) > maxOutputBytes) return overflow(worker, task)
        task.frame = line.frame
        task.resume?.(answered)
        return
      }
      if (task !== undefined && (line._tag === "Plain" || line.taskId === task.taskId)) {
        task.tail.add(line.line)
        task.logged = true
        logs.offerAnnotated(line.line, task.annotations)
      } else logs.offer(line.line)
    })
    child.stdout.on("data", (chunk: Buffer) => {
      const task = worker.current
      if (task === undefined || task.overflowed) return
      task.stdoutBytes += chunk.length
      if (task.stdoutBytes > maxOutputBytes) overflow(worker, task)
    })
    child.stderr.on("data", (chunk: Buffer) => {
      stderr.push(chunk)
      // A result frame still arriving counts against the limit too, before its line is complete.
      const task = worker.current
      if (task !== undefined && !task.overflowed && stderr.pendingLength() + task.stdoutBytes > maxOutputBytes) {
        if (stderr.pendingStartsWith(resultFrameMarker)) overflow(worker, task)
      }
    })
    // A worker that died is reported by its exit, not by a failed write.
    child.stdin.on("error", () => {})
    const exited = (exit: ProcessExit) => {
      if (worker.exit !== undefined) return
      worker.exit = exit
      live.delete(worker)
      // Leftover group members would hold the pipes open; those that left the group go too.
      killGroup(child.pid, "SIGKILL")
      void killMarked(token)
      Deferred.doneUnsafe(worker.exited, Effect.succeed(exit))
      worker.current?.resume?.(exitOf(worker))
    }
    child.on("exit", (code, signal) => exited({ code, signal }))
    child.on("error", () => {
      exited({ code: null, signal: null })
      Deferred.doneUnsafe(worker.closed, Effect.void)
    })
    child.on("close", () => {
      stderr.flush()
      Deferred.doneUnsafe(worker.closed, Effect.void)
    })
    return worker
  }

  // The exit, once the pipes have closed too (so the last stderr lines are in), or one grace period after it
  // when a process that escaped the group holds them open.
  const waitExit = (worker: Worker): Effect.Effect<ProcessExit> =>
    Deferred.await(worker.exited).pipe(Effect.tap(() => Effect.timeoutOption(Deferred.await(worker.closed), killGrace)))
  const answered: Effect.Effect<Ending> = Effect.succeed(Option.some(undefined))
  const timedOut: Effect.Effect<Ending> = Effect.succeed(Option.none())
  const exitOf = (worker: Worker): Effect.Effect<Ending> => Effect.map(waitExit(worker), Option.some)

  // Resolves when the task is answered, its worker exits or its timeout passes, whichever comes first.
  const ending = (worker: Worker, state: TaskState, timeoutMs: number) =>
    Effect.callback<Ending>((resume) => {
      if (state.frame !== undefined) return resume(answered)
      if (worker.exit !== undefined) return resume(exitOf(worker))
      const stop = () => {
        state.resume = undefined
        deadlines.remove(wait)
      }
      const wait = deadlines.add(timeoutMs, () => state.resume?.(timedOut))
      state.resume = (ended) => {
        stop()
        resume(ended)
      }
      return Effect.sync(stop)
    })

  const runOn = (worker: Worker, task: PluginTask, workDir: string) =>
    Effect.gen(function* () {
      const state: TaskState = {
        taskId: task.taskId,
        annotations: { runId: task.runId, taskId: task.taskId },
        tail: makeTail(),
        stdoutBytes: 0,
        overflowed: false,
        frame: undefined,
        logged: false,
        resume: undefined
      }
      const request: WorkerRequest = {
        request: actionRequest(task, workDir),
        ...(task.traceparent === undefined ? {} : { traceparent: task.traceparent })
      }
      worker.current = state
      worker.tasks += 1
      const started = clock.currentTimeMillisUnsafe()
      worker.child.stdin.write(`${JSON.stringify(request)}\n`)

      const first = yield* ending(worker, state, Duration.toMillis(task.timeout))
      const exit = Option.isSome(first)
        ? first.value
        : yield* Effect.gen(function* () {
            killGroup(worker.child.pid, "SIGTERM")
            const graceful = yield* Effect.timeoutOption(waitExit(worker), killGrace)
            if (Option.isSome(graceful)) return graceful.value
            killGroup(worker.child.pid, "SIGKILL")
            return yield* waitExit(worker)
          })
      const durationMs = clock.currentTimeMillisUnsafe() - started
      worker.current = undefined
      // The task's log lines are logged before its outcome is reported.
      if (state.logged) yield* logs.flush

      const frame = state.frame === undefined ? Result.fail("no result frame on stderr") : parseResultFrame(state.frame)
      const outcome = classifyEnding({
        action: task.action,
        durationMs,
        timedOut: Option.isNone(first),
        overflowedAt: state.overflowed ? maxOutputBytes : undefined,
        exit,
        frame,
        stderrTail: state.tail.lines()
      })
      // A worker that wrote an unreadable frame is in a state nobody knows: it is not given another task.
      return { outcome, reusable: exit === undefined && worker.exit === undefined && Result.isSuccess(frame) }
    })

  const checkout = (): Worker => {
    for (let worker = idle.pop(); worker !== undefined; worker = idle.pop()) {
      if (worker.exit === undefined) return worker
    }
    return spawnWorker()
  }

  const release = (worker: Worker, reusable: boolean) => {
    if (reusable && !closing && worker.tasks < maxTasks) idle.push(worker)
    else if (reusable) worker.child.stdin.end()
    else killGroup(worker.child.pid, "SIGKILL")
  }

  yield* Effect.addFinalizer(() =>
    Effect.gen(function* () {
      closing = true
      idle.length = 0
      const workers = [...live]
      for (const worker of workers) killGroup(worker.child.pid, "SIGKILL")
      yield* Effect.forEach(workers, (worker) => Effect.timeoutOption(Deferred.await(worker.exited), killGrace), { discard: true })
    })
  )

  // A task that arrives after the scope closed (the executor stopping, the plugin unloaded) starts nothing.
  const closed = (task: PluginTask): ProcessOutcome => ({
    status: "failed",
    error: { tag: "PoolClosedError", message: `${task.action}: the plugin's process pool is closed`, retryable: true },
    metrics: { durationMs: 0, exitCode: null, signal: null, peakMemoryBytes: null }
  })

  // Checkout, directory and their release sit in one synchronous step each side of the task: nothing can
  // interrupt between taking them and registering their release.
  const runTask = (task: PluginTask): Effect.Effect<ProcessOutcome> => {
    const worker = checkout()
    const workDir = workDirs.take()
    return runOn(worker, task, workDir).pipe(
      Effect.onExit((exit) =>
        Effect.sync(() => {
          workDirs.recycle(workDir)
          // An interrupted task leaves its worker in an unknown state: it is not reused.
          release(worker, Exit.isSuccess(exit) && exit.value.reusable)
        })
      ),
      Effect.map(({ outcome }) => outcome)
    )
  }

  // No span of its own: the executor's span of the task covers it.
  const run = (task: PluginTask): Effect.Effect<ProcessOutcome> =>
    Effect.suspend(() => (closing ? Effect.succeed(closed(task)) : runTask(task))).pipe(Semaphore.withPermit(permits))

  return { run } satisfies ProcessPool
})
