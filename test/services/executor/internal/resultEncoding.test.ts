import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import type { Schema } from "effect"
import * as Codec from "../../../../schemas/Codec.ts"
import { encodeTaskResult, type Outcome } from "../../../../services/executor/internal/resultEncoding.ts"
import { WireType } from "../../../../schemas/Catalog.ts"
import { TaskFailure, TaskMetrics, TaskResult } from "../../../../schemas/Task.ts"
import { errorOf } from "../../../support/results.ts"

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

const decodeResult = Codec.decode(TaskResult, WireType.TaskResult)

/** Encodes, then decodes what was encoded the way the scheduler does. */
const roundTrip = (outcome: Outcome) => {
  const encoded = encodeTaskResult(fields, outcome)
  return Effect.runSync(decodeResult({ subject: "task.result.r-1", data: encoded.data, headers: encoded.headers }))
}

describe("encodeTaskResult", () => {
  it("encodes every kind of output, failures and a runtime's metrics so that the scheduler decodes them back", () => {
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
      const decoded = roundTrip({ status: "succeeded", output })
      assert.deepStrictEqual([decoded.status, decoded.status === "succeeded" ? decoded.output : undefined], ["succeeded", output])
      assert.deepStrictEqual([decoded.taskId, decoded.attempt, decoded.durationMs], [fields.taskId, fields.attempt, fields.durationMs])
    }
    const error = new TaskFailure({ tag: "ProcessExitError", message: "exited with code 3", retryable: true })
    const metrics = new TaskMetrics({ durationMs: 9, exitCode: 3, signal: "SIGTERM", peakRssBytes: 1 })
    const failed = roundTrip({ status: "failed", error, metrics })
    assert.deepStrictEqual([failed.status, errorOf(failed)?.tag, { ...failed.metrics }], ["failed", "ProcessExitError", { ...metrics }])
  })

  it("throws for an output that is not JSON", () => {
    for (const output of [Number.NaN, { when: new Date(0) }, [undefined], { f: () => 1 }] as unknown as ReadonlyArray<Schema.Json>) {
      assert.throws(() => encodeTaskResult(fields, { status: "succeeded", output }))
    }
  })
})
