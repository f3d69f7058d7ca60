import { describe, expect, it } from "@effect/vitest"
import { Schema } from "effect"
import { RunRecord } from "../../../schemas/RunRecord.ts"
import { encodeRunRecord } from "../../../services/scheduler/RunStore.ts"

const metadata = {
  type: "hello.greet",
  version: "1.0.0",
  description: "Greets someone by name.",
  plugin: "hello",
  stateKey: "greeting",
  output: "set",
  count: "one",
  dependencies: [],
  runtime: "inline",
  timeoutMs: 30000
}

const failure = { tag: "StageError", message: "boom", retryable: true, fields: { path: "a.b" } }

/** A stored record with every optional part of a run record set. */
const stored = {
  version: 1,
  runId: "r1",
  file: "hello.yaml",
  pipeline: {
    name: "hello",
    vars: { region: "eu" },
    stages: [
      { name: "greet", type: "hello.greet", inputs: { who: "{{ inputs.name }}" }, retries: { max_attempts: 3, backoff_ms: 10 } },
      { name: "gate", type: "hello.greet", depends_on: ["greet"], metadata: { stateKey: "gated" } },
      { name: "each", type: "hello.greet", for_each: "{{ state.list }}", batch: 2, max_parallel: 4, on_item_failure: "skip" }
    ]
  },
  inputs: { name: "Ada" },
  status: "running",
  state: { greeting: "hello", list: [1, { a: [null, true] }, "x"] },
  ledger: { ready: false },
  ledgerVersion: 2,
  types: { "hello.greet": metadata },
  stages: {
    greet: {
      name: "greet",
      type: "hello.greet",
      pool: "hello",
      status: "retrying",
      attempt: 1,
      taskId: "r1.greet",
      startedAt: 1,
      retryAt: 20,
      durationMs: 3,
      executorId: "e1",
      error: failure,
      metrics: { durationMs: 3, exitCode: 1, peakRssBytes: 1024 }
    },
    gate: {
      name: "gate",
      type: "hello.greet",
      metadata: { ...metadata, stateKey: "gated" },
      pool: "hello",
      status: "waiting",
      attempt: 1,
      taskId: "r1.gate~1",
      waiting: {
        message: "waits",
        unmet: ["ready"],
        timeoutMs: 100,
        timeoutError: { tag: "GateConditionError", message: "unmet", retryable: false }
      },
      waitUntil: 200,
      wakes: 1,
      ledgerSeen: 1
    },
    each: {
      name: "each",
      type: "hello.greet",
      pool: "hello",
      status: "dispatched",
      attempt: 1,
      taskId: "r1.each",
      items: {
        total: 3,
        batch: 2,
        tasks: 2,
        next: 2,
        done: 0,
        doneItems: 0,
        count: 0,
        running: { "0": { status: "dispatched", attempt: 1 }, "1": { status: "retrying", attempt: 1, retryAt: 50 } },
        skipped: [],
        skippedItems: 0
      }
    }
  },
  seq: 7,
  createdAt: 1,
  vars: { region: "eu" },
  traceparent: "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
  error: failure
}

describe("RunStore", () => {
  it("saves a decoded record as the JSON its schema encodes it to, which decodes to the same record", () => {
    const record = Schema.decodeUnknownSync(RunRecord)(stored)
    const json = encodeRunRecord(record)
    expect(json).toBe(JSON.stringify(Schema.encodeSync(RunRecord)(record)))
    expect(JSON.parse(json)).toEqual(stored)
    expect(Schema.decodeUnknownSync(Schema.fromJsonString(RunRecord))(json)).toEqual(record)
  })
})
