import { spawn } from "node:child_process"
import { mkdtemp, rm } from "node:fs/promises"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { fileURLToPath } from "node:url"
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { runnerArgs } from "../../../services/runtimes/ProcessRuntime.ts"
import { readWorkerLine, resultFrameMarker, serveFlag, tagLogLine } from "../../../schemas/WorkerProtocol.ts"
import { eventually } from "../../support/eventually.ts"

const entry = fileURLToPath(new URL("./fixtures/plugin.ts", import.meta.url))

/** A runner in long-lived mode, its output collected line by line; killed when the scope closes. */
const serving = Effect.acquireRelease(
  Effect.sync(() => {
    const child = spawn(process.execPath, [...runnerArgs, serveFlag, entry], { stdio: ["pipe", "pipe", "pipe"] })
    const out = { stdout: "", stderr: "", exitCode: undefined as number | null | undefined }
    child.stdout.on("data", (chunk: Buffer) => (out.stdout += chunk.toString("utf8")))
    child.stderr.on("data", (chunk: Buffer) => (out.stderr += chunk.toString("utf8")))
    child.on("exit", (code) => (out.exitCode = code))
    return { child, out }
  }),
  ({ child }) => Effect.sync(() => child.kill("SIGKILL"))
)

const request = (taskId: string, workDir: string, input: unknown = { name: "ada" }) =>
  JSON.stringify({
    request: { version: 1, action: "fixture.greet", input, taskId, runId: "run-1", attempt: 1, vars: {}, secrets: {}, workDir }
  })

const frames = (stdout: string) =>
  stdout
    .split("\n")
    .filter((line) => line.startsWith(resultFrameMarker))
    .map((line) => JSON.parse(line.slice(resultFrameMarker.length)) as { result: { status: string; error?: { tag: string } } })

describe("the runner's long-lived mode", () => {
  it("reads tagged log lines, result frames and plain lines back", () => {
    assert.deepStrictEqual(readWorkerLine(tagLogLine("task 1/ü", '{"message":"hi"}')), {
      _tag: "Log",
      taskId: "task 1/ü",
      line: '{"message":"hi"}'
    })
    const frame = `${resultFrameMarker}{"result":{"status":"succeeded","output":null}}`
    assert.deepStrictEqual(readWorkerLine(frame), { _tag: "Frame", frame })
    assert.deepStrictEqual(readWorkerLine("just a line"), { _tag: "Plain", line: "just a line" })
    assert.deepStrictEqual(readWorkerLine(tagLogLine("%E0%A4%A", "x")), { _tag: "Log", taskId: "%E0%A4%A", line: "x" })
  })

  it.live("answers requests one after another on stderr, each frame after its task's log lines, and exits when stdin ends", () =>
    Effect.gen(function* () {
      const workDir = yield* Effect.acquireRelease(
        Effect.promise(() => mkdtemp(join(tmpdir(), "switchyard-serve-test-"))),
        (dir) => Effect.promise(() => rm(dir, { recursive: true, force: true }))
      )
      const { child, out } = yield* serving
      child.stdin.write(`${request("t-1", workDir)}\n`)
      child.stdin.write(`${request("t-2", workDir, { name: 7 })}\n`)
      child.stdin.write(`{"request":{"taskId":"t-3"}}\n`)
      child.stdin.end()
      yield* eventually("the runner exits", () => out.exitCode === 0)
      assert.deepStrictEqual(
        frames(out.stderr).map((frame) => [frame.result.status, frame.result.error?.tag]),
        [
          ["succeeded", undefined],
          ["failed", "InvalidInputError"],
          ["failed", "InvalidRequestError"]
        ]
      )
      const lines = out.stderr
        .split("\n")
        .filter((line) => line !== "")
        .map(readWorkerLine)
      assert.deepStrictEqual(frames(out.stdout), [], "stdout carries no frame")
      const firstFrame = lines.findIndex((line) => line._tag === "Frame")
      const log = lines.findIndex((line) => line._tag === "Log")
      const plain = lines.findIndex((line) => line._tag === "Plain" && line.line === "a plain stderr line")
      const logLine = lines[log]
      assert.strictEqual(logLine?._tag === "Log" ? logLine.taskId : undefined, "t-1")
      assert.include(logLine?._tag === "Log" ? logLine.line : "", '"who":"ada"')
      assert.isTrue(log !== -1 && log < firstFrame, "t-1's log line comes before its frame")
      assert.isTrue(plain !== -1 && plain < firstFrame, "t-1's plain stderr line comes before its frame")
    }).pipe(Effect.scoped)
  )
})
