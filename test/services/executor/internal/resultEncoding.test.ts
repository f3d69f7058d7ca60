import { assert, describe, it } from "@effect/vitest"
import type { Schema } from "effect"
import * as Codec from "../../../../schemas/Codec.ts"
import { encodeTaskResult, type Outcome } from "../../../../services/executor/internal/resultEncoding.ts"
import { WireType } from "../../../../schemas/Catalog.ts"
import { TaskFailure, TaskMetrics, TaskResult } from "../../../../schemas/Task.ts"

const fields = {
  taskId: "t-1",
  runId: "r-1",
  stage: "greet",
  stageType: "hello.greet",
  attempt: 2,
  executorId: "replica-a",
  pool: "hello",
  durationMs: 12
}

/** What encoding a constructed `TaskResult` with its schema gives. */
const viaSchema = (outcome: Outcome) => Codec.encode(TaskResult, WireType.TaskResult, new TaskResult({ version: 1, ...fields, ...outcome }))

const text = (bytes: Uint8Array) => new TextDecoder().decode(bytes)

describe("encodeTaskResult", () => {
  it("gives the bytes and headers the TaskResult schema gives, for every kind of output and for failures", () => {
    const outputs: ReadonlyArray<Schema.Json> = [
      null,
      "text",
      0,
      -1.5,
      true,
      [],
      {},
      { greeting: "Hello", nested: { list: [1, "two", null, { deep: [false] }] } },
      Array.from({ length: 40 }, (_, i) => ({ i }))
    ]
    for (const output of outputs) {
      const fast = encodeTaskResult(fields, { status: "succeeded", output })
      const slow = viaSchema({ status: "succeeded", output })
      assert.strictEqual(text(fast.data), text(slow.data), JSON.stringify(output))
      assert.deepStrictEqual(fast.headers, slow.headers)
    }
    const error = new TaskFailure({ tag: "StageTimeoutError", message: "took too long", retryable: true })
    assert.strictEqual(text(encodeTaskResult(fields, { status: "failed", error }).data), text(viaSchema({ status: "failed", error }).data))
  })

  it("gives the schema's bytes for results that carry a runtime's metrics, whichever fields were measured", () => {
    const measured: ReadonlyArray<TaskMetrics> = [
      new TaskMetrics({ durationMs: 41 }),
      new TaskMetrics({ durationMs: 41, exitCode: 0, peakRssBytes: 73_400_320 }),
      new TaskMetrics({ durationMs: 2.5, signal: "SIGKILL" }),
      new TaskMetrics({ durationMs: 9, exitCode: 3, signal: "SIGTERM", peakRssBytes: 1 })
    ]
    const error = new TaskFailure({ tag: "ProcessExitError", message: "exited with code 3", retryable: true })
    for (const metrics of measured) {
      for (const outcome of [
        { status: "succeeded", output: { ok: true }, metrics },
        { status: "failed", error, metrics }
      ] as const) {
        const fast = encodeTaskResult(fields, outcome)
        assert.strictEqual(text(fast.data), text(viaSchema(outcome).data), JSON.stringify(outcome))
        assert.deepStrictEqual(JSON.parse(text(fast.data)).metrics, { ...metrics })
      }
    }
  })

  it("leaves outputs it cannot vouch for to the schema, which rejects what is not JSON", () => {
    let deep: Schema.Json = "bottom"
    for (let i = 0; i < 100; i++) deep = [deep]
    const accepted = encodeTaskResult(fields, { status: "succeeded", output: deep })
    assert.strictEqual(text(accepted.data), text(viaSchema({ status: "succeeded", output: deep }).data))
    for (const output of [Number.NaN, { when: new Date(0) }, [undefined], { f: () => 1 }] as unknown as ReadonlyArray<Schema.Json>) {
      assert.throws(() => encodeTaskResult(fields, { status: "succeeded", output }))
      assert.throws(() => viaSchema({ status: "succeeded", output }))
    }
  })
})
