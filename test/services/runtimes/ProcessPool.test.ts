import { existsSync, readFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { dirname, join } from "node:path"
import { fileURLToPath } from "node:url"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Exit, Logger, References, Scope } from "effect"
import type { ProcessOutcome, PluginTask } from "../../../services/runtimes/ProcessRuntime.ts"
import type { ProcessPoolOptions } from "../../../services/runtimes/ProcessPool.ts"
import { makeProcessPool } from "../../../services/runtimes/ProcessPool.ts"
import { eventually } from "../../support/eventually.ts"
import { isGone, scratchDir } from "../../support/processes.ts"

const entry = fileURLToPath(new URL("./fixtures/plugin.ts", import.meta.url))

let taskCounter = 0
const task = (action: string, input: unknown, options: Partial<PluginTask> = {}): PluginTask => ({
  action,
  input,
  taskId: `task-${++taskCounter}`,
  runId: "run-1",
  attempt: 1,
  vars: {},
  secrets: {},
  timeout: "10 seconds",
  ...options
})

const pool = (options: Partial<ProcessPoolOptions> = {}) => makeProcessPool({ entry, env: [], size: 1, ...options })

const quiet = <A, E>(effect: Effect.Effect<A, E, Scope.Scope>) => effect.pipe(Effect.scoped, Effect.provide(Logger.layer([])))

const succeeded = (outcome: ProcessOutcome): Record<string, unknown> => {
  assert.strictEqual(outcome.status, "succeeded", outcome.status === "failed" ? outcome.error.message : "")
  return (outcome.status === "succeeded" ? outcome.output : {}) as Record<string, unknown>
}

const failedWith = (outcome: ProcessOutcome, tag: string) => {
  assert.strictEqual(outcome.status, "failed")
  if (outcome.status !== "failed") throw new Error("unreachable")
  assert.strictEqual(outcome.error.tag, tag, outcome.error.message)
  return outcome.error
}

const pidOf = (outcome: ProcessOutcome): number => Number(succeeded(outcome).pid)

const tempDir = scratchDir("switchyard-pool-test-")

describe("makeProcessPool", () => {
  it.live("serves several tasks from the same process, which stays alive between them", () =>
    quiet(
      Effect.gen(function* () {
        const workers = yield* pool()
        const outcomes = yield* Effect.forEach([1, 2, 3], () => workers.run(task("fixture.pid", {})))
        const pids = outcomes.map(pidOf)
        assert.strictEqual(new Set(pids).size, 1)
        assert.notStrictEqual(pids[0], process.pid)
        for (const outcome of outcomes) {
          assert.strictEqual(outcome.metrics.exitCode, null)
          assert.strictEqual(outcome.metrics.signal, null)
          assert.isAbove(outcome.metrics.peakMemoryBytes ?? 0, 1024 * 1024)
        }
        assert.isFalse(isGone(pids[0]!))
      })
    )
  )

  it.live("runs concurrent tasks on at most size processes", () =>
    quiet(
      Effect.gen(function* () {
        const workers = yield* pool({ size: 2 })
        const outcomes = yield* Effect.forEach(
          Array.from({ length: 6 }, () => task("fixture.pid", { delayMs: 100 })),
          (each) => workers.run(each),
          { concurrency: "unbounded" }
        )
        assert.strictEqual(new Set(outcomes.map(pidOf)).size, 2)
      })
    )
  )

  it.live("retires a process after maxTasksPerProcess tasks and serves the next ones from a new one", () =>
    quiet(
      Effect.gen(function* () {
        const workers = yield* pool({ maxTasksPerProcess: 2 })
        const outcomes = yield* Effect.forEach([1, 2, 3, 4, 5], () => workers.run(task("fixture.pid", {})))
        const [a, b, c, d, e] = outcomes.map(pidOf)
        assert.strictEqual(a, b)
        assert.strictEqual(c, d)
        assert.notStrictEqual(b, c)
        assert.notStrictEqual(d, e)
        assert.notStrictEqual(a, e)
        yield* eventually("the retired processes are gone", () => isGone(a!) && isGone(c!))
      })
    )
  )

  it.live("fails a task whose process exits, with the exit code and stderr tail, and runs the next task in a new process", () =>
    quiet(
      Effect.gen(function* () {
        const workers = yield* pool()
        const before = pidOf(yield* workers.run(task("fixture.pid", {})))
        const outcome = yield* workers.run(task("fixture.exitThree", {}))
        const error = failedWith(outcome, "ProcessExitError")
        assert.strictEqual(error.exitCode, 3)
        assert.strictEqual(outcome.metrics.exitCode, 3)
        assert.deepStrictEqual(
          error.stderrTail,
          Array.from({ length: 20 }, (_, i) => `line ${i + 11}`)
        )
        assert.include(error.message, "exited with code 3")
        const after = pidOf(yield* workers.run(task("fixture.pid", {})))
        assert.notStrictEqual(after, before)
        yield* eventually("the crashed process is gone", () => isGone(before))
      })
    )
  )

  it.live("fails a task whose process is killed by a signal and runs the next task in a new process", () =>
    quiet(
      Effect.gen(function* () {
        const workers = yield* pool()
        const before = pidOf(yield* workers.run(task("fixture.pid", {})))
        const outcome = yield* workers.run(task("fixture.killSelf", {}))
        const error = failedWith(outcome, "ProcessSignalError")
        assert.strictEqual(error.signal, "SIGKILL")
        assert.deepStrictEqual(error.stderrTail, ["about to die"])
        const after = pidOf(yield* workers.run(task("fixture.pid", {})))
        assert.notStrictEqual(after, before)
      })
    )
  )

  it.live("kills the worker's whole process group, grandchild included, when a task times out, then replaces it", () =>
    quiet(
      Effect.gen(function* () {
        const dir = yield* tempDir
        const pidFile = join(dir, "grandchild.pid")
        const workers = yield* pool({ killGrace: "300 millis" })
        const outcome = yield* workers.run(task("fixture.hang", { pidFile }, { timeout: "1500 millis" }))
        const error = failedWith(outcome, "StageTimeoutError")
        assert.strictEqual(error.retryable, true)
        // The action ignores the abort, so only SIGKILL ends the worker.
        assert.strictEqual(outcome.metrics.signal, "SIGKILL")
        const [grandchild, workDir, worker] = readFileSync(pidFile, "utf8").split(" ")
        yield* eventually("the grandchild and the worker are gone", () => isGone(Number(grandchild)) && isGone(Number(worker)))
        yield* eventually("the task's working directory is removed after a timeout", () => !existsSync(workDir ?? ""))
        const after = pidOf(yield* workers.run(task("fixture.pid", {})))
        assert.notStrictEqual(after, Number(worker))
      })
    )
  )

  it.live("reports oversized output as OutputTooLargeError and replaces the worker", () =>
    quiet(
      Effect.gen(function* () {
        const workers = yield* pool({ maxOutputBytes: 64 * 1024 })
        const before = pidOf(yield* workers.run(task("fixture.pid", {})))
        failedWith(yield* workers.run(task("fixture.huge", { bytes: 2 * 1024 * 1024 })), "OutputTooLargeError")
        const under = yield* workers.run(task("fixture.huge", { bytes: 1000 }))
        assert.strictEqual(under.status, "succeeded")
        assert.notStrictEqual(pidOf(yield* workers.run(task("fixture.pid", {}))), before)
      })
    )
  )

  it.live("reports an unparsable result frame as InvalidOutputError", () =>
    quiet(
      Effect.gen(function* () {
        const workers = yield* pool()
        failedWith(yield* workers.run(task("fixture.badFrame", {})), "InvalidOutputError")
        assert.isAbove(pidOf(yield* workers.run(task("fixture.pid", {}))), 0)
      })
    )
  )

  it.live("passes the action's own failure through and keeps the worker", () =>
    quiet(
      Effect.gen(function* () {
        const workers = yield* pool()
        const before = pidOf(yield* workers.run(task("fixture.pid", {})))
        const outcome = yield* workers.run(task("fixture.quota", {}))
        const error = failedWith(outcome, "QuotaError")
        assert.strictEqual(error.retryable, true)
        assert.strictEqual(pidOf(yield* workers.run(task("fixture.pid", {}))), before)
      })
    )
  )

  it.live("gives workers only PATH and declared variables, each task its own TRACEPARENT, and undoes a task's changes", () =>
    quiet(
      Effect.gen(function* () {
        process.env.SWITCHYARD_TEST_PARENT_ONLY = "parent"
        yield* Effect.addFinalizer(() => Effect.sync(() => delete process.env.SWITCHYARD_TEST_PARENT_ONLY))
        const workers = yield* pool({
          env: ["SWITCHYARD_TEST_DECLARED"],
          parentEnv: { PATH: process.env.PATH, SWITCHYARD_TEST_DECLARED: "declared-value", SWITCHYARD_TEST_UNDECLARED: "no" }
        })
        const names = [
          "SWITCHYARD_TEST_DECLARED",
          "SWITCHYARD_TEST_UNDECLARED",
          "SWITCHYARD_TEST_PARENT_ONLY",
          "TRACEPARENT",
          "LEAK",
          "HOME"
        ]
        const traceparent = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
        const first = succeeded(yield* workers.run(task("fixture.environment", { names }, { traceparent, secrets: { token: "s3cret" } })))
        assert.deepStrictEqual(first.env, { SWITCHYARD_TEST_DECLARED: "declared-value", TRACEPARENT: traceparent })
        assert.deepStrictEqual(first.secrets, { token: "s3cret" })
        yield* workers.run(task("fixture.pid", { setEnv: "LEAK" }))
        const second = succeeded(yield* workers.run(task("fixture.environment", { names })))
        assert.strictEqual(second.pid, first.pid)
        assert.deepStrictEqual(second.env, { SWITCHYARD_TEST_DECLARED: "declared-value" })
        assert.deepStrictEqual(second.secrets, {})
        // The token by which the worker's descendants are found and killed with it.
        assert.sameMembers(second.keys as Array<string>, ["PATH", "SWITCHYARD_TEST_DECLARED", "SWITCHYARD_PROCESS_TOKEN"])
      })
    )
  )

  it.live("runs each task in a fresh working directory that is removed right after it", () =>
    quiet(
      Effect.gen(function* () {
        const workers = yield* pool()
        const first = succeeded(yield* workers.run(task("fixture.environment", { names: [] })))
        const second = succeeded(yield* workers.run(task("fixture.environment", { names: [] })))
        assert.strictEqual(first.pid, second.pid)
        assert.notStrictEqual(first.workDir, second.workDir)
        for (const output of [first, second]) {
          assert.strictEqual(output.cwd, output.workDir)
          assert.isTrue(String(output.workDir).startsWith(tmpdir()))
          yield* eventually(`${String(output.workDir)} is removed`, () => !existsSync(String(output.workDir)))
        }
      })
    )
  )

  it.live("gives every task an empty directory under a name no earlier task had, whatever earlier tasks left in theirs", () =>
    quiet(
      Effect.gen(function* () {
        const workers = yield* pool({ size: 2 })
        const inputs = [{ leave: "a.txt" }, {}, {}, { leave: "b.txt" }, {}, {}, {}]
        const outputs: Array<Record<string, unknown>> = []
        for (const input of inputs) outputs.push(succeeded(yield* workers.run(task("fixture.workDir", input))))
        const concurrent = yield* Effect.forEach(inputs, (input) => workers.run(task("fixture.workDir", input)), {
          concurrency: "unbounded"
        })
        outputs.push(...concurrent.map(succeeded))
        for (const output of outputs) {
          assert.deepStrictEqual(output.entries, [], `${String(output.workDir)} is empty when its task starts`)
          yield* eventually(`${String(output.workDir)} is gone once its task ended`, () => !existsSync(String(output.workDir)))
        }
        assert.strictEqual(new Set(outputs.map((output) => output.workDir)).size, outputs.length)
      })
    )
  )

  it.live("forwards each task's stderr lines as logs annotated with that task's ids", () =>
    Effect.gen(function* () {
      const seen: Array<{ message: unknown; annotations: Record<string, unknown> }> = []
      const capture = Logger.make<unknown, void>((options) => {
        seen.push({ message: options.message, annotations: { ...options.fiber.getRef(References.CurrentLogAnnotations) } })
      })
      yield* Effect.gen(function* () {
        const workers = yield* pool()
        yield* workers.run(task("fixture.greet", { name: "ada" }, { taskId: "task-a", runId: "run-a" }))
        yield* workers.run(task("fixture.greet", { name: "bob" }, { taskId: "task-b", runId: "run-b" }))
      }).pipe(Effect.scoped, Effect.provide(Logger.layer([capture])))
      const structured = seen.filter((entry) => String(entry.message).includes("greeting"))
      const plain = seen.filter((entry) => String(entry.message).includes("a plain stderr line"))
      assert.deepStrictEqual(
        structured.map((entry) => [entry.annotations.who, entry.annotations.taskId, entry.annotations.runId]),
        [
          ["ada", "task-a", "run-a"],
          ["bob", "task-b", "run-b"]
        ]
      )
      assert.deepStrictEqual(
        plain.map((entry) => [entry.annotations.taskId, entry.annotations.plain]),
        [
          ["task-a", true],
          ["task-b", true]
        ]
      )
      assert.isFalse(seen.some((entry) => String(entry.message).includes("switchyard-")))
    })
  )

  it.live("kills every worker, removes its directory and refuses further tasks when its scope closes", () =>
    Effect.gen(function* () {
      const scope = yield* Scope.make()
      const workers = yield* pool({ size: 2 }).pipe(Scope.provide(scope))
      const outcomes = yield* Effect.forEach([1, 2], () => workers.run(task("fixture.pid", { delayMs: 100 })), {
        concurrency: "unbounded"
      })
      const pids = outcomes.map(pidOf)
      assert.strictEqual(new Set(pids).size, 2)
      assert.isFalse(pids.some(isGone))
      const { workDir } = succeeded(yield* workers.run(task("fixture.environment", { names: [] })))
      const poolDir = dirname(String(workDir))
      assert.isTrue(existsSync(poolDir))
      yield* Scope.close(scope, Exit.void)
      yield* eventually("every worker is gone", () => pids.every(isGone))
      assert.isFalse(existsSync(poolDir), "the pool's directory of task directories is removed")
      failedWith(yield* workers.run(task("fixture.pid", {})), "PoolClosedError")
    }).pipe(Effect.provide(Logger.layer([])))
  )
})
