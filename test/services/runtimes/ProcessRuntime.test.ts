import { existsSync, readFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { fileURLToPath } from "node:url"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Logger, References, Result } from "effect"
import type { RunInProcessOptions } from "../../../services/runtimes/ProcessRuntime.ts"
import { runInProcess } from "../../../services/runtimes/ProcessRuntime.ts"
import { eventually } from "../../support/eventually.ts"
import { isGone, scratchDir } from "../../support/processes.ts"

const entry = fileURLToPath(new URL("./fixtures/plugin.ts", import.meta.url))

const runLogged = (action: string, input: unknown, options: Partial<RunInProcessOptions> = {}) =>
  runInProcess({
    entry,
    action,
    input,
    taskId: "task-1",
    runId: "run-1",
    attempt: 2,
    vars: {},
    secrets: {},
    env: [],
    timeout: "10 seconds",
    ...options
  })

const run = (action: string, input: unknown, options: Partial<RunInProcessOptions> = {}) =>
  runLogged(action, input, options).pipe(Effect.provide(Logger.layer([])))

const tempDir = scratchDir("switchyard-runtime-test-")

describe("runInProcess", () => {
  it.live("returns the action's output and ignores stray stdout lines", () =>
    Effect.gen(function* () {
      const outcome = yield* run("fixture.greet", { name: "ada" })
      assert.strictEqual(outcome.status, "succeeded")
      if (outcome.status !== "succeeded") return
      assert.deepStrictEqual(outcome.output, { greeting: "hello ada", runId: "run-1", attempt: 2 })
      assert.strictEqual(outcome.metrics.exitCode, 0)
      assert.strictEqual(outcome.metrics.signal, null)
      assert.isAbove(outcome.metrics.peakMemoryBytes ?? 0, 1024 * 1024)
      assert.isAbove(outcome.metrics.durationMs, 0)
    })
  )

  it.live("forwards structured and plain stderr lines as logs annotated with the run and task ids", () =>
    Effect.gen(function* () {
      const seen: Array<{ message: unknown; annotations: Record<string, unknown>; level: string }> = []
      const capture = Logger.make<unknown, void>((options) => {
        seen.push({
          message: options.message,
          annotations: { ...options.fiber.getRef(References.CurrentLogAnnotations) },
          level: options.logLevel
        })
      })
      yield* runLogged("fixture.greet", { name: "ada" }).pipe(Effect.provide(Logger.layer([capture])))
      const structured = seen.find((entry) => String(entry.message).includes("greeting"))
      const plain = seen.find((entry) => String(entry.message).includes("a plain stderr line"))
      assert.isDefined(structured)
      assert.isDefined(plain)
      assert.strictEqual(structured?.annotations.runId, "run-1")
      assert.strictEqual(structured?.annotations.taskId, "task-1")
      assert.strictEqual(structured?.annotations.who, "ada")
      assert.strictEqual(plain?.annotations.runId, "run-1")
      assert.strictEqual(plain?.annotations.plain, true)
    })
  )

  it.live("passes the action's own failure through with its tag and retryability", () =>
    Effect.gen(function* () {
      const outcome = yield* run("fixture.quota", {})
      assert.strictEqual(outcome.status, "failed")
      if (outcome.status !== "failed") return
      assert.strictEqual(outcome.error.tag, "QuotaError")
      assert.strictEqual(outcome.error.message, "quota exhausted")
      assert.strictEqual(outcome.error.retryable, true)
      assert.strictEqual(outcome.metrics.exitCode, 0)
    })
  )

  it.live("reports invalid input as an InvalidInputError from the plugin process", () =>
    Effect.gen(function* () {
      const outcome = yield* run("fixture.greet", { name: 42 })
      assert.strictEqual(outcome.status, "failed")
      if (outcome.status !== "failed") return
      assert.strictEqual(outcome.error.tag, "InvalidInputError")
      assert.include(outcome.error.message, "name")
    })
  )

  it.live("reports a non-zero exit with the exit code and the last 20 lines of stderr", () =>
    Effect.gen(function* () {
      const outcome = yield* run("fixture.exitThree", {})
      assert.strictEqual(outcome.status, "failed")
      if (outcome.status !== "failed") return
      assert.strictEqual(outcome.error.tag, "ProcessExitError")
      assert.strictEqual(outcome.error.exitCode, 3)
      assert.strictEqual(outcome.metrics.exitCode, 3)
      assert.deepStrictEqual(
        outcome.error.stderrTail,
        Array.from({ length: 20 }, (_, i) => `line ${i + 11}`)
      )
      assert.include(outcome.error.message, "exited with code 3")
      assert.include(outcome.error.message, "line 30")
      assert.notInclude(outcome.error.message, "line 10\n")
    })
  )

  it.live("reports a process killed by a signal with the signal name and stderr tail", () =>
    Effect.gen(function* () {
      const outcome = yield* run("fixture.killSelf", {})
      assert.strictEqual(outcome.status, "failed")
      if (outcome.status !== "failed") return
      assert.strictEqual(outcome.error.tag, "ProcessSignalError")
      assert.strictEqual(outcome.error.signal, "SIGKILL")
      assert.strictEqual(outcome.metrics.signal, "SIGKILL")
      assert.deepStrictEqual(outcome.error.stderrTail, ["about to die"])
      assert.include(outcome.error.message, "SIGKILL")
    })
  )

  it.live("kills the whole process group, grandchild included, when a task hangs past its timeout", () =>
    Effect.gen(function* () {
      const dir = yield* tempDir
      const pidFile = join(dir, "grandchild.pid")
      const outcome = yield* run("fixture.hang", { pidFile }, { timeout: "1500 millis", killGrace: "300 millis" })
      assert.strictEqual(outcome.status, "failed")
      if (outcome.status !== "failed") return
      assert.strictEqual(outcome.error.tag, "StageTimeoutError")
      assert.strictEqual(outcome.error.retryable, true)
      // The runner ignores SIGTERM while its action hangs, so only SIGKILL ends it.
      assert.strictEqual(outcome.metrics.signal, "SIGKILL")
      const [pid, workDir] = readFileSync(pidFile, "utf8").split(" ")
      const grandchild = Number(pid)
      assert.isAbove(grandchild, 0)
      yield* eventually("the grandchild process is gone", () => isGone(grandchild))
      assert.isFalse(existsSync(workDir ?? ""), "the task's working directory is removed after a timeout")
    }).pipe(Effect.scoped)
  )

  it.live("kills a descendant that started a session of its own (setsid) when the task times out", () =>
    Effect.gen(function* () {
      const dir = yield* tempDir
      const pidFile = join(dir, "session.pid")
      const leftover = () =>
        Number(
          Result.getOrElse(
            Result.try(() => readFileSync(pidFile, "utf8")),
            () => "0"
          )
        )
      // Never outlives the test, even when the runtime fails to kill it.
      yield* Effect.addFinalizer(() => Effect.sync(() => leftover() > 0 && Result.try(() => process.kill(leftover(), "SIGKILL"))))
      const outcome = yield* run("fixture.hangWithSession", { pidFile }, { timeout: "1500 millis", killGrace: "300 millis" })
      assert.strictEqual(outcome.status, "failed")
      if (outcome.status !== "failed") return
      assert.strictEqual(outcome.error.tag, "StageTimeoutError")
      const session = leftover()
      assert.isAbove(session, 0)
      // It was in a session (and group) of its own, so killing the task's group alone missed it.
      yield* eventually("the setsid grandchild is gone", () => isGone(session))
    }).pipe(Effect.scoped)
  )

  it.live("kills the process and reports OutputTooLargeError when stdout passes the limit", () =>
    Effect.gen(function* () {
      const outcome = yield* run("fixture.huge", { bytes: 2 * 1024 * 1024 }, { maxOutputBytes: 64 * 1024 })
      assert.strictEqual(outcome.status, "failed")
      if (outcome.status !== "failed") return
      assert.strictEqual(outcome.error.tag, "OutputTooLargeError")
      assert.strictEqual(outcome.error.retryable, false)
    })
  )

  it.live("accepts output under the limit", () =>
    Effect.gen(function* () {
      const outcome = yield* run("fixture.huge", { bytes: 1000 }, { maxOutputBytes: 64 * 1024 })
      assert.strictEqual(outcome.status, "succeeded")
    })
  )

  it.live("reports an unparsable result frame as InvalidOutputError", () =>
    Effect.gen(function* () {
      const outcome = yield* run("fixture.badFrame", {})
      assert.strictEqual(outcome.status, "failed")
      if (outcome.status !== "failed") return
      assert.strictEqual(outcome.error.tag, "InvalidOutputError")
      assert.strictEqual(outcome.metrics.exitCode, 0)
    })
  )

  it.live("gives the process only PATH, declared variables and TRACEPARENT", () =>
    Effect.gen(function* () {
      const parentEnv = {
        PATH: process.env.PATH,
        SWITCHYARD_TEST_DECLARED: "declared-value",
        SWITCHYARD_TEST_UNDECLARED: "undeclared-value"
      }
      const outcome = yield* run(
        "fixture.environment",
        { names: ["SWITCHYARD_TEST_DECLARED", "SWITCHYARD_TEST_UNDECLARED", "TRACEPARENT", "HOME"] },
        {
          env: ["SWITCHYARD_TEST_DECLARED"],
          parentEnv,
          traceparent: "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
          secrets: { token: "s3cret" }
        }
      )
      assert.strictEqual(outcome.status, "succeeded")
      if (outcome.status !== "succeeded") return
      const output = outcome.output as { env: Record<string, string>; secrets: Record<string, string> }
      assert.deepStrictEqual(output.env, {
        SWITCHYARD_TEST_DECLARED: "declared-value",
        TRACEPARENT: "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
      })
      assert.deepStrictEqual(output.secrets, { token: "s3cret" })
    })
  )

  it.live("does not pass this process's own environment through", () =>
    Effect.gen(function* () {
      process.env.SWITCHYARD_TEST_PARENT_ONLY = "parent"
      const outcome = yield* run("fixture.environment", { names: ["SWITCHYARD_TEST_PARENT_ONLY", "PATH"] }).pipe(
        Effect.ensuring(Effect.sync(() => delete process.env.SWITCHYARD_TEST_PARENT_ONLY))
      )
      assert.strictEqual(outcome.status, "succeeded")
      if (outcome.status !== "succeeded") return
      const output = outcome.output as { env: Record<string, string>; keys: Array<string> }
      assert.deepStrictEqual(Object.keys(output.env), ["PATH"])
    })
  )

  it.live("runs the task in a fresh working directory that is removed afterwards", () =>
    Effect.gen(function* () {
      const outcome = yield* run("fixture.environment", { names: [] })
      assert.strictEqual(outcome.status, "succeeded")
      if (outcome.status !== "succeeded") return
      const output = outcome.output as { cwd: string; workDir: string }
      assert.strictEqual(output.cwd, output.workDir)
      assert.isTrue(output.workDir.startsWith(tmpdir()))
      assert.isFalse(existsSync(output.workDir))
    })
  )

  it.live("ends the task one grace period after the process exits when an escaped grandchild holds its pipes", () =>
    Effect.gen(function* () {
      const dir = yield* tempDir
      const pidFile = join(dir, "escaped.pid")
      yield* Effect.addFinalizer(() =>
        Effect.sync(() => {
          const pid = Number(
            Result.getOrElse(
              Result.try(() => readFileSync(pidFile, "utf8")),
              () => "0"
            )
          )
          if (pid > 0) Result.try(() => process.kill(pid, "SIGKILL"))
        })
      )
      const outcome = yield* run("fixture.escape", { pidFile }, { killGrace: "200 millis" })
      assert.strictEqual(outcome.status, "succeeded")
      assert.strictEqual(outcome.metrics.exitCode, 0)
      assert.isBelow(outcome.metrics.durationMs, 5000)
    }).pipe(Effect.scoped)
  )
})
