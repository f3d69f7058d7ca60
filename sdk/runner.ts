/**
 * The entry a plugin process runs: `node sdk/runner.ts <pluginModulePath>`.
 * It reads one JSON `ActionRequest` from stdin, imports the plugin module,
 * finds the action among the module's exports (every exported
 * `defineAction` value, matched by name), runs it with a `PluginContext`, and
 * writes one framed result line (`resultFrameMarker` + JSON) to stdout, so
 * stray `console.log` lines cannot be mistaken for it. SIGTERM aborts the
 * action's signal. The process exits 0 whenever it wrote a result.
 */
import { pathToFileURL } from "node:url"
import { resolve } from "node:path"
import { Effect, Schema } from "effect"
import type { ActionResult } from "./defineAction.ts"
import { ActionRequest, failedFrom, isActionDefinition, makePluginLogger, resultFrameMarker } from "./defineAction.ts"

const controller = new AbortController()
process.on("SIGTERM", () => controller.abort())

const readStdin = Effect.callback<string>((resume) => {
  const chunks: Array<Buffer> = []
  process.stdin.on("data", (chunk: Buffer) => chunks.push(chunk))
  process.stdin.on("end", () => resume(Effect.succeed(Buffer.concat(chunks).toString("utf8"))))
})

const failed = (tag: string, message: string): ActionResult => ({
  status: "failed",
  error: { tag, message, retryable: false }
})

const writeFrame = (result: ActionResult) =>
  Effect.callback<void>((resume) => {
    const frame = { result, peakMemoryBytes: process.resourceUsage().maxRSS * 1024 }
    process.stdout.write(`${resultFrameMarker}${JSON.stringify(frame)}\n`, () => resume(Effect.void))
  })

const main = Effect.gen(function* () {
  const modulePath = process.argv[2]
  if (modulePath === undefined) return failed("PluginLoadError", "usage: runner <pluginModulePath>")
  const text = yield* readStdin
  const request = yield* Schema.decodeUnknownEffect(Schema.fromJsonString(ActionRequest))(text).pipe(
    Effect.mapError((error) => failed("InvalidRequestError", error.message))
  )
  const module = yield* Effect.tryPromise({
    try: () => import(pathToFileURL(resolve(modulePath)).href) as Promise<Record<string, unknown>>,
    catch: (error) => failedFrom(error)
  }).pipe(
    Effect.mapError((result) => (result.status === "failed" ? failed("PluginLoadError", `${modulePath}: ${result.error.message}`) : result))
  )
  const action = Object.values(module).find((value) => isActionDefinition(value) && value.name === request.action)
  if (!isActionDefinition(action)) {
    return failed("UnknownActionError", `${modulePath} exports no action named ${request.action}`)
  }
  return yield* action.execute(request.input, {
    log: makePluginLogger(),
    vars: request.vars,
    secrets: request.secrets,
    workDir: request.workDir,
    signal: controller.signal,
    taskId: request.taskId,
    runId: request.runId,
    attempt: request.attempt
  })
}).pipe(
  Effect.catch((result) => Effect.succeed(result)),
  Effect.flatMap(writeFrame),
  Effect.andThen(Effect.sync(() => process.exit(0)))
)

Effect.runFork(main)
