import { spawn } from "node:child_process"
import { tmpdir } from "node:os"
import type { Writable } from "node:stream"
import { fileURLToPath } from "node:url"
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { resultFrameMarker } from "../../schemas/WorkerProtocol.ts"
import { runnerArgs } from "../../services/runtimes/ProcessRuntime.ts"
import { serveFlag } from "../../schemas/WorkerProtocol.ts"
import { probeMarker } from "./fixtures/importProbe.ts"

const probe = fileURLToPath(new URL("./fixtures/importProbe.ts", import.meta.url))
const plugin = fileURLToPath(new URL("../services/runtimes/fixtures/plugin.ts", import.meta.url))

interface Ended {
  readonly code: number | null
  readonly signal: string | null
  readonly stdout: string
  readonly stderr: string
}

/**
 * Starts the runner under the import probe, sends SIGTERM the moment it starts importing effect (before
 * the runner could have done anything else), lets it go on and reports how it ended.
 */
const terminatedWhileStarting = (args: ReadonlyArray<string>, stdin: string | undefined) =>
  Effect.callback<Ended>((resume) => {
    const child = spawn(process.execPath, ["--import", probe, ...runnerArgs, ...args], {
      env: { PATH: process.env.PATH ?? "", SWITCHYARD_PROBE: "1" },
      stdio: ["pipe", "pipe", "pipe", "pipe"]
    })
    const resumeProbe = child.stdio[3] as Writable
    resumeProbe.on("error", () => {})
    let stdout = ""
    let stderr = ""
    let signalled = false
    child.stdout.on("data", (chunk: Buffer) => (stdout += chunk.toString("utf8")))
    child.stderr.on("data", (chunk: Buffer) => {
      stderr += chunk.toString("utf8")
      if (signalled || !stderr.includes(probeMarker)) return
      signalled = true
      child.kill("SIGTERM")
      // Lets the probe go on (a process the signal killed is gone, and so is the pipe's reader).
      resumeProbe.end("x")
    })
    child.stdin.on("error", () => {})
    if (stdin !== undefined) child.stdin.end(stdin)
    child.on("close", (code, signal) => resume(Effect.succeed({ code, signal, stdout, stderr })))
    return Effect.sync(() => child.kill("SIGKILL"))
  }).pipe(Effect.timeout("20 seconds"))

const request = (workDir: string) =>
  JSON.stringify({
    version: 1,
    action: "fixture.untilAborted",
    input: {},
    taskId: "task-1",
    runId: "run-1",
    attempt: 1,
    vars: {},
    secrets: {},
    workDir
  })

const frameOf = (text: string): unknown => {
  const line = text.split("\n").find((candidate) => candidate.startsWith(resultFrameMarker))
  return line === undefined ? undefined : (JSON.parse(line.slice(resultFrameMarker.length)) as { result: unknown }).result
}

describe("the plugin runner", () => {
  it.live("aborts the action's signal and writes its result when SIGTERM arrives while it is still starting", () =>
    Effect.gen(function* () {
      // Several rounds, each stopped at the same point of the start.
      for (let round = 0; round < 3; round++) {
        const ended = yield* terminatedWhileStarting([plugin], request(tmpdir()))
        assert.deepStrictEqual(
          { code: ended.code, signal: ended.signal, result: frameOf(ended.stdout) },
          { code: 0, signal: null, result: { status: "succeeded", output: { aborted: true } } },
          `round ${round}; stderr: ${ended.stderr}`
        )
      }
    })
  )

  it.live("a warm pool worker that gets SIGTERM while it is still starting exits with code 0", () =>
    Effect.gen(function* () {
      for (let round = 0; round < 3; round++) {
        // Its stdin stays open: only the signal can end it.
        const ended = yield* terminatedWhileStarting([serveFlag, plugin], undefined)
        assert.deepStrictEqual(
          { code: ended.code, signal: ended.signal },
          { code: 0, signal: null },
          `round ${round}; stderr: ${ended.stderr}`
        )
      }
    })
  )
})
