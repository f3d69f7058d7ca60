/**
 * Imports a plugin's entry module the way its tasks will (`node sdk/runner.ts
 * --describe <entry>`: a child process in the plugin folder, environment
 * limited to PATH and the names the manifest declares) and returns what it
 * exports: each action's name and the JSON Schemas derived from its effect
 * schemas. A child, not an import here: the module's top-level code is the
 * plugin's, so a crash, `process.exit`, a hang or patched globals stay in the
 * child, a deadline bounds it, and a second validation never sees a cached copy.
 */
import { spawn } from "node:child_process"
import { Effect, Schema } from "effect"
import { describeFrameMarker, ModuleDescription } from "@switchyard/schemas/WorkerProtocol"
import { describeFlag, runnerArgs } from "../../runtimes/index.ts"

/** How long importing an entry module may take. */
export const describeTimeoutMs = 30_000

const decode = Schema.decodeUnknownResult(Schema.fromJsonString(ModuleDescription))

/** What the entry module exports, or why it could not be imported (as one line). */
export const describeEntry = (options: {
  readonly entry: string
  readonly dir: string
  readonly env: ReadonlyArray<string>
}): Effect.Effect<ModuleDescription> =>
  Effect.callback<ModuleDescription>((resume) => {
    const environment: Record<string, string> = {}
    for (const name of ["PATH", ...options.env]) {
      const value = process.env[name]
      if (value !== undefined) environment[name] = value
    }
    const child = spawn(process.execPath, [...runnerArgs, describeFlag, options.entry], {
      cwd: options.dir,
      env: environment,
      stdio: ["ignore", "pipe", "pipe"],
      timeout: describeTimeoutMs,
      killSignal: "SIGKILL"
    })
    let out = ""
    let err = ""
    child.stdout.setEncoding("utf8").on("data", (chunk: string) => void (out += chunk))
    child.stderr.setEncoding("utf8").on("data", (chunk: string) => void (err += chunk))
    const failed = (message: string) =>
      resume(Effect.succeed<ModuleDescription>({ status: "failed", error: { tag: "PluginLoadError", message, retryable: false } }))
    child.once("error", (error) => failed(`cannot start node: ${error.message}`))
    child.once("close", (code, signal) => {
      const frame = out.split("\n").find((line) => line.startsWith(describeFrameMarker))
      const decoded = frame === undefined ? undefined : decode(frame.slice(describeFrameMarker.length))
      if (decoded !== undefined && decoded._tag === "Success") return resume(Effect.succeed(decoded.success))
      const lastLine = err.trim().split("\n").at(-1) ?? ""
      failed(
        signal === "SIGKILL"
          ? `importing it took longer than ${describeTimeoutMs} ms`
          : `the process importing it ended (${signal ?? `exit code ${code}`}) without describing it${lastLine === "" ? "" : `: ${lastLine}`}`
      )
    })
    return Effect.sync(() => void child.kill("SIGKILL"))
  })
