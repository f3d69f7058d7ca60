import { spawn } from "node:child_process"
import { mkdtemp, rm } from "node:fs/promises"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { fileURLToPath } from "node:url"
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { resultFrameMarker } from "../../../sdk/defineAction.ts"
import { runnerPath } from "../../../services/runtimes/ProcessRuntime.ts"
import { readWorkerLine, serveFlag, tagLogLine, taskEndLine } from "../../../services/runtimes/WorkerProtocol.ts"
import { eventually } from "../../support/eventually.ts"

const entry = fileURLToPath(new URL("./fixtures/plugin.ts", import.meta.url))

/** A runner in long-lived mode, its output collected line by line; killed when the scope closes. */
const serving = Effect.acquireRelease(
  Effect.sync(() => {
    const child = spawn(process.execPath, [runnerPath, serveFlag, entry], { stdio: ["pipe", "pipe", "pipe"] })
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
  it("reads tagged log lines, end-of-task lines and plain lines back", () => {
    assert.deepStrictEqual(readWorkerLine(tagLogLine("task 1/ü", '{"message":"hi"}')), {
      _tag: "Log",
      taskId: "task 1/ü",
      line: '{"message":"hi"}'
    })
    assert.deepStrictEqual(readWorkerLine(taskEndLine("task 1/ü")), { _tag: "End", taskId: "task 1/ü" })
    assert.deepStrictEqual(readWorkerLine("just a line"), { _tag: "Plain", line: "just a line" })
    assert.deepStrictEqual(readWorkerLine(`${taskEndLine("")}%E0%A4%A`), { _tag: "End", taskId: "%E0%A4%A" })
  })

  it.live("answers requests one after another, tags each task's log lines, and exits when stdin ends", () =>
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
        frames(out.stdout).map((frame) => [frame.result.status, frame.result.error?.tag]),
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
      assert.deepStrictEqual(
        lines.filter((line) => line._tag === "End").map((line) => line.taskId),
        ["t-1", "t-2", "t-3"]
      )
      const log = lines.find((line) => line._tag === "Log")
      assert.strictEqual(log?._tag === "Log" ? log.taskId : undefined, "t-1")
      assert.include(log?._tag === "Log" ? log.line : "", '"who":"ada"')
      assert.isTrue(lines.some((line) => line._tag === "Plain" && line.line === "a plain stderr line"))
    }).pipe(Effect.scoped)
  )
})
