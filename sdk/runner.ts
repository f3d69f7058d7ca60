/**
 * The entry a plugin process runs. One-shot mode, `node sdk/runner.ts
 * <pluginModulePath>`: it reads one JSON `ActionRequest` from stdin, imports
 * the plugin module, finds the action among the module's exports (every
 * exported `defineAction` value, matched by name), runs it with a
 * `PluginContext`, and writes one framed result line (`resultFrameMarker` +
 * JSON) to stdout, so stray `console.log` lines cannot be mistaken for it.
 * SIGTERM aborts the action's signal, also when it arrives while the process
 * is still starting (the action then starts with its signal aborted). The
 * process exits 0 whenever it wrote a result.
 *
 * Describe mode, `node sdk/runner.ts --describe <pluginModulePath>` (what
 * `switchyard plugin validate` runs): it imports the module and writes one
 * framed line (`describeFrameMarker` + JSON `ModuleDescription`) naming every
 * exported action with the JSON Schemas derived from its effect schemas, or
 * why the import failed; the manifest is checked against that.
 *
 * Long-lived mode, `node sdk/runner.ts --serve <pluginModulePath>` (a warm
 * pool's worker, see `services/runtimes/WorkerProtocol.ts`): it imports the
 * module once, then answers request lines from stdin one after another, each
 * with a framed result on stderr after the task's `ctx.log` lines, which are
 * tagged with the task id. Each task runs in its work directory
 * (the process's cwd while it runs) with TRACEPARENT set from its request,
 * and the environment is restored after it. SIGTERM aborts the running task
 * and ends the process once its result is written (with no task running,
 * while starting included, it exits 0 at once); the end of stdin ends it
 * too. The SIGTERM handler is the first thing the process installs.
 */
import { enableCompileCache } from "node:module"
import { pathToFileURL } from "node:url"
import { resolve } from "node:path"
import type { Effect as Fx } from "effect"
import type { ActionRequest as Request, ActionResult, ModuleDescription } from "@switchyard/schemas/WorkerProtocol"
import type { PluginLogger } from "./defineAction.ts"

// First of all, before anything slow loads: without a handler, a SIGTERM during the start (a short
// timeout) would kill the process by default instead of being handled as designed. Each mode reads
// `terminated`, whether the signal came before it started or after.
const terminated = new AbortController()
process.on("SIGTERM", () => terminated.abort())

// Loading effect is most of a plugin process's start: with Node's compile cache (under the OS temporary
// directory) it and the plugin module are compiled once, not in every process. Only modules loaded after
// this call use the cache, hence the dynamic imports.
enableCompileCache()
const { Cause, Effect, Exit, Result, Schema } = await import("effect")
const { failedFrom, isActionDefinition, makePluginLogger } = await import("./defineAction.ts")
const { jsonSchemaOf } = await import("./defineStage.ts")
const { traceAction } = await import("./internal/actionTracing.ts")
const { ActionRequest, describeFlag, describeFrameMarker, resultFrameMarker, serveFlag, tagLogLine, WorkerRequest } =
  await import("@switchyard/schemas/WorkerProtocol")

type PluginModule = Record<string, unknown>

const failed = (tag: string, message: string): ActionResult => ({
  status: "failed",
  error: { tag, message, retryable: false }
})

/** The framed result line, with the process's peak memory so far. */
const frameLine = (result: ActionResult): string =>
  `${resultFrameMarker}${JSON.stringify({ result, peakMemoryBytes: process.resourceUsage().maxRSS * 1024 })}\n`

const writeFrame = (result: ActionResult) =>
  Effect.callback<void>((resume) => {
    process.stdout.write(frameLine(result), () => resume(Effect.void))
  })

/**
 * Answers one request of the long-lived mode: its framed result on stderr,
 * after every line the task wrote there. Nothing waits for the write here;
 * `flushed` does before an exit.
 */
const answer = (result: ActionResult): void => {
  process.stderr.write(frameLine(result))
}

/** Completes once everything written to stdout and stderr so far has been handed to the OS. */
const flushed = Effect.callback<void>((resume) => {
  process.stdout.write("", () => process.stderr.write("", () => resume(Effect.void)))
})

const loadModule = (modulePath: string): Fx.Effect<PluginModule, ActionResult> =>
  Effect.tryPromise({
    try: () => import(pathToFileURL(resolve(modulePath)).href) as Promise<PluginModule>,
    catch: (error) => failedFrom(error)
  }).pipe(
    Effect.mapError((result) => (result.status === "failed" ? failed("PluginLoadError", `${modulePath}: ${result.error.message}`) : result))
  )

const runRequest = (
  modulePath: string,
  module: PluginModule,
  request: Request,
  signal: AbortSignal,
  log: PluginLogger
): Fx.Effect<ActionResult> => {
  const action = Object.values(module).find((value) => isActionDefinition(value) && value.name === request.action)
  if (!isActionDefinition(action)) {
    return Effect.succeed(failed("UnknownActionError", `${modulePath} exports no action named ${request.action}`))
  }
  return action
    .execute(request.input, {
      log,
      vars: request.vars,
      secrets: request.secrets,
      workDir: request.workDir,
      signal,
      taskId: request.taskId,
      runId: request.runId,
      attempt: request.attempt
    })
    .pipe(
      traceAction({
        action: request.action,
        taskId: request.taskId,
        runId: request.runId,
        attempt: request.attempt,
        secrets: request.secrets
      })
    )
}

const readStdin = Effect.callback<string>((resume) => {
  const chunks: Array<Buffer> = []
  process.stdin.on("data", (chunk: Buffer) => chunks.push(chunk))
  process.stdin.on("end", () => resume(Effect.succeed(Buffer.concat(chunks).toString("utf8"))))
})

const oneShot = (modulePath: string) =>
  Effect.gen(function* () {
    const text = yield* readStdin
    const request = yield* Schema.decodeUnknownEffect(Schema.fromJsonString(ActionRequest))(text).pipe(
      Effect.mapError((error) => failed("InvalidRequestError", error.message))
    )
    const module = yield* loadModule(modulePath)
    return yield* runRequest(modulePath, module, request, terminated.signal, makePluginLogger())
  }).pipe(
    Effect.catch((result) => Effect.succeed(result)),
    Effect.flatMap(writeFrame)
  )

const describeModule = (modulePath: string) =>
  loadModule(modulePath).pipe(
    Effect.map((module): ModuleDescription => ({
      status: "described",
      actions: Object.values(module)
        .filter(isActionDefinition)
        .map((action) => ({ name: action.name, inputs: jsonSchemaOf(action.inputs), outputs: jsonSchemaOf(action.outputs) }))
    })),
    Effect.catch((result) =>
      Effect.succeed<ModuleDescription>(
        result.status === "failed" ? { status: "failed", error: result.error } : { status: "described", actions: [] }
      )
    ),
    Effect.flatMap((description) =>
      Effect.callback<void>((resume) => {
        process.stdout.write(`${describeFrameMarker}${JSON.stringify(description)}\n`, () => resume(Effect.void))
      })
    )
  )

const decodeWorkerRequest = Schema.decodeUnknownResult(Schema.fromJsonString(WorkerRequest))

/** Puts the environment back as it was when the worker started: a task's changes do not reach the next one. */
const restoreEnv = (base: Readonly<Record<string, string | undefined>>): void => {
  for (const name of Object.keys(process.env)) if (!(name in base)) delete process.env[name]
  for (const [name, value] of Object.entries(base)) if (process.env[name] !== value) process.env[name] = value
}

/**
 * The long-lived mode. Request lines are handled in the stdin callbacks one at a time, each action run as
 * its own fiber from there (a task's path holds no queue or fiber hop of the worker's own); lines that
 * arrive while a task runs wait their turn. Completes once stdin has ended and every request is answered.
 */
const serve = (modulePath: string) =>
  Effect.gen(function* () {
    const module = yield* Effect.result(loadModule(modulePath))
    const baseEnv = { ...process.env }
    const home = process.cwd()
    const waiting: Array<string> = []
    let running: AbortController | undefined
    let stopping = false
    let inputEnded = false
    let finish: (() => void) | undefined
    const stop = () => {
      stopping = true
      if (running === undefined) process.exit(0)
      running.abort()
    }
    if (terminated.signal.aborted) stop()
    else terminated.signal.addEventListener("abort", stop, { once: true })

    const settle = (result: ActionResult) => {
      answer(result)
      running = undefined
      restoreEnv(baseEnv)
      process.chdir(home)
      if (stopping) Effect.runFork(flushed.pipe(Effect.andThen(Effect.sync(() => process.exit(0)))))
      else next()
    }

    const start = (line: string) => {
      const decoded = decodeWorkerRequest(line)
      if (Result.isFailure(decoded)) return answer(failed("InvalidRequestError", decoded.failure.message))
      const { request, traceparent } = decoded.success
      if (Result.isFailure(module)) return answer(module.failure)
      const controller = new AbortController()
      running = controller
      if (traceparent !== undefined) process.env.TRACEPARENT = traceparent
      const entered = Result.try(() => process.chdir(request.workDir))
      if (Result.isFailure(entered)) return settle(failedFrom(entered.failure))
      const log = makePluginLogger((text) => process.stderr.write(tagLogLine(request.taskId, text)))
      Effect.runCallback(runRequest(modulePath, module.success, request, controller.signal, log), {
        onExit: (exit) => settle(Exit.isSuccess(exit) ? exit.value : failedFrom(Cause.squash(exit.cause)))
      })
    }

    // An action that completes synchronously settles inside `start`; the loop below then takes the next line
    // instead of `settle` starting it, so queued lines never nest calls.
    let draining = false
    const next = () => {
      if (draining) return
      draining = true
      while (running === undefined && !stopping) {
        const line = waiting.shift()
        if (line === undefined) break
        start(line)
      }
      draining = false
      if (running === undefined && inputEnded && waiting.length === 0) finish?.()
    }

    let pending = ""
    process.stdin.on("data", (chunk: Buffer) => {
      const lines = (pending + chunk.toString("utf8")).split("\n")
      pending = lines.pop() ?? ""
      for (const line of lines) if (line !== "") waiting.push(line)
      next()
    })
    yield* Effect.callback<void>((resume) => {
      finish = () => resume(Effect.void)
      process.stdin.on("end", () => {
        inputEnded = true
        next()
      })
    })
    yield* flushed
  })

const main = Effect.suspend(() => {
  const [first, second] = process.argv.slice(2)
  if (first === serveFlag && second !== undefined) return serve(second)
  if (first === describeFlag && second !== undefined) return describeModule(second)
  if (first === undefined || first === serveFlag) return writeFrame(failed("PluginLoadError", "usage: runner [--serve] <pluginModulePath>"))
  return oneShot(first)
}).pipe(Effect.andThen(Effect.sync(() => process.exit(0))))

Effect.runFork(main)
