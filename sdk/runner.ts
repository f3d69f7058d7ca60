/**
 * The entry a plugin process runs. One-shot mode, `node sdk/runner.ts
 * <pluginModulePath>`: it reads one JSON `ActionRequest` from stdin, imports
 * the plugin module, finds the action among the module's exports (every
 * exported `defineAction` value, matched by name), runs it with a
 * `PluginContext`, and writes one framed result line (`resultFrameMarker` +
 * JSON) to stdout, so stray `console.log` lines cannot be mistaken for it.
 * SIGTERM aborts the action's signal. The process exits 0 whenever it wrote
 * a result.
 *
 * Long-lived mode, `node sdk/runner.ts --serve <pluginModulePath>` (a warm
 * pool's worker, see `services/runtimes/WorkerProtocol.ts`): it imports the
 * module once, then answers request lines from stdin one after another, each
 * with a framed result on stdout and an end-of-task line on stderr; `ctx.log`
 * lines are tagged with the task id. Each task runs in its work directory
 * (the process's cwd while it runs) with TRACEPARENT set from its request,
 * and the environment is restored after it. SIGTERM aborts the running task
 * and ends the process once its result is written; the end of stdin ends it
 * too.
 */
import { enableCompileCache } from "node:module"
import { pathToFileURL } from "node:url"
import { resolve } from "node:path"
import type { Cause, Effect as Fx } from "effect"
import type { ActionRequest as Request, ActionResult, PluginLogger } from "./defineAction.ts"

// Loading effect is most of a plugin process's start: with Node's compile cache (under the OS temporary
// directory) it and the plugin module are compiled once, not in every process. Only modules loaded after
// this call use the cache, hence the dynamic imports.
enableCompileCache()
const { Effect, Queue, Result, Schema } = await import("effect")
const { ActionRequest, failedFrom, isActionDefinition, makePluginLogger, resultFrameMarker } = await import("./defineAction.ts")
const { serveFlag, tagLogLine, taskEndLine, WorkerRequest } = await import("../services/runtimes/WorkerProtocol.ts")

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
 * Answers one request of the long-lived mode: its framed result, then its
 * end-of-task line. Order within each stream is all the pool needs, so
 * nothing waits for the writes here; `flushed` does before an exit.
 */
const answer = (taskId: string, result: ActionResult): void => {
  process.stdout.write(frameLine(result))
  process.stderr.write(`${taskEndLine(taskId)}\n`)
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
  return action.execute(request.input, {
    log,
    vars: request.vars,
    secrets: request.secrets,
    workDir: request.workDir,
    signal,
    taskId: request.taskId,
    runId: request.runId,
    attempt: request.attempt
  })
}

const readStdin = Effect.callback<string>((resume) => {
  const chunks: Array<Buffer> = []
  process.stdin.on("data", (chunk: Buffer) => chunks.push(chunk))
  process.stdin.on("end", () => resume(Effect.succeed(Buffer.concat(chunks).toString("utf8"))))
})

const oneShot = (modulePath: string) => {
  const controller = new AbortController()
  process.on("SIGTERM", () => controller.abort())
  return Effect.gen(function* () {
    const text = yield* readStdin
    const request = yield* Schema.decodeUnknownEffect(Schema.fromJsonString(ActionRequest))(text).pipe(
      Effect.mapError((error) => failed("InvalidRequestError", error.message))
    )
    const module = yield* loadModule(modulePath)
    return yield* runRequest(modulePath, module, request, controller.signal, makePluginLogger())
  }).pipe(
    Effect.catch((result) => Effect.succeed(result)),
    Effect.flatMap(writeFrame)
  )
}

const decodeWorkerRequest = Schema.decodeUnknownResult(Schema.fromJsonString(WorkerRequest))

/** Puts the environment back as it was when the worker started: a task's changes do not reach the next one. */
const restoreEnv = (base: Readonly<Record<string, string | undefined>>): void => {
  for (const name of Object.keys(process.env)) if (!(name in base)) delete process.env[name]
  for (const [name, value] of Object.entries(base)) if (process.env[name] !== value) process.env[name] = value
}

/** The task id of a request line that does not decode, if it has one, so the pool can still match the answer. */
const looseTaskId = (line: string): string => {
  const parsed = Result.try(() => JSON.parse(line) as unknown)
  const request =
    Result.isSuccess(parsed) && typeof parsed.success === "object" ? (parsed.success as { request?: unknown }).request : undefined
  const taskId = typeof request === "object" && request !== null ? (request as { taskId?: unknown }).taskId : undefined
  return typeof taskId === "string" ? taskId : ""
}

const serve = (modulePath: string) =>
  Effect.gen(function* () {
    const module = yield* Effect.result(loadModule(modulePath))
    const baseEnv = { ...process.env }
    const home = process.cwd()
    let running: AbortController | undefined
    let stopping = false
    process.on("SIGTERM", () => {
      stopping = true
      if (running === undefined) process.exit(0)
      running.abort()
    })

    const requests = yield* Queue.unbounded<string, Cause.Done>()
    let pending = ""
    process.stdin.on("data", (chunk: Buffer) => {
      const lines = (pending + chunk.toString("utf8")).split("\n")
      pending = lines.pop() ?? ""
      for (const line of lines) if (line !== "") Queue.offerUnsafe(requests, line)
    })
    process.stdin.on("end", () => Queue.endUnsafe(requests))

    const handle = (line: string) =>
      Effect.gen(function* () {
        const decoded = decodeWorkerRequest(line)
        if (Result.isFailure(decoded)) return answer(looseTaskId(line), failed("InvalidRequestError", decoded.failure.message))
        const { request, traceparent } = decoded.success
        const controller = new AbortController()
        running = controller
        if (traceparent !== undefined) process.env.TRACEPARENT = traceparent
        const log = makePluginLogger((text) => process.stderr.write(tagLogLine(request.taskId, text)))
        const result = Result.isFailure(module)
          ? module.failure
          : yield* Effect.try({ try: () => process.chdir(request.workDir), catch: failedFrom }).pipe(
              Effect.andThen(runRequest(modulePath, module.success, request, controller.signal, log)),
              Effect.catch(Effect.succeed)
            )
        answer(request.taskId, result)
        running = undefined
        restoreEnv(baseEnv)
        process.chdir(home)
        if (stopping) yield* flushed.pipe(Effect.andThen(Effect.sync(() => process.exit(0))))
      })

    yield* Queue.take(requests).pipe(Effect.flatMap(handle), Effect.forever, Effect.ignore)
    yield* flushed
  })

const main = Effect.suspend(() => {
  const [first, second] = process.argv.slice(2)
  if (first === serveFlag && second !== undefined) return serve(second)
  if (first === undefined || first === serveFlag) return writeFrame(failed("PluginLoadError", "usage: runner [--serve] <pluginModulePath>"))
  return oneShot(first)
}).pipe(Effect.andThen(Effect.sync(() => process.exit(0))))

Effect.runFork(main)
