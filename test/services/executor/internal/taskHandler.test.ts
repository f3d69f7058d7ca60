import { assert, describe, it } from "@effect/vitest"
import { Clock, Duration, Effect, Option, Schema, Stream, Tracer } from "effect"
import { Bus } from "../../../../services/bus/Bus.ts"
import type { JobMessage } from "../../../../services/bus/Bus.ts"
import * as Codec from "../../../../schemas/Codec.ts"
import * as MemoryBus from "../../../../services/bus/MemoryBus.ts"
import { resultsStream } from "../../../../services/bus/Streams.ts"
import { makeNames } from "../../../../schemas/Subjects.ts"
import { StageCatalog } from "../../../../services/executor/StageCatalog.ts"
import type { ExecutorSettings } from "../../../../services/executor/ExecutorConfig.ts"
import { LeaseKeeper } from "../../../../services/executor/internal/leaseKeeper.ts"
import { RunningTasks } from "../../../../services/executor/internal/runningTasks.ts"
import { makeTaskHandler } from "../../../../services/executor/internal/taskHandler.ts"
import { defineStage } from "../../../../sdk/defineStage.ts"
import { StageWaiting } from "../../../../schemas/Stage.ts"
import { WireType } from "../../../../schemas/Catalog.ts"
import { TaskResult } from "../../../../schemas/Task.ts"
import * as MemoryBlobStore from "../../../../services/bus/MemoryBlobStore.ts"
import { uniquePrefix } from "../../../support/unique.ts"
import { errorOf, outputOf } from "../../../support/results.ts"
import { BlobStore } from "../../../../services/bus/BlobStore.ts"
import { storeJson } from "../../../../services/bus/BlobJson.ts"

const traceId = "4bf92f3577b34da6a3ce929d0e0e4736"
const senderSpanId = "00f067aa0ba902b7"

const settings: ExecutorSettings = {
  pool: "p",
  executorId: "replica-a",
  slots: 4,
  heartbeatInterval: Duration.seconds(5),
  ackWait: Duration.seconds(30),
  maxDeliver: 5,
  maxAckPending: 16,
  crashLimit: 2,
  blobThreshold: 64 * 1024,
  registerTimeout: Duration.seconds(5),
  shutdownGrace: Duration.seconds(5),
  progressInterval: Duration.seconds(10),
  maxResultBytes: 1_000_000,
  vars: {}
}

const upper = defineStage({
  type: "test.upper",
  version: "1.0.0",
  description: "Upper-cases a text.",
  plugin: "test",
  stateKey: "out",
  output: "set",
  count: "one",
  inputs: Schema.String,
  outputs: Schema.String,
  run: (text) => text.toUpperCase()
})

const gate = defineStage({
  type: "test.gate",
  version: "1.0.0",
  description: "Waits for an approval that never comes.",
  plugin: "test",
  stateKey: "gate",
  output: "set",
  count: "one",
  inputs: Schema.Unknown,
  outputs: Schema.Unknown,
  run: () =>
    Effect.fail(
      new StageWaiting({
        message: "waiting for approval",
        unmet: ["ledger.approved is true"],
        timeoutMs: 60_000,
        timeoutError: { tag: "GateTimeoutError", message: "no approval" }
      })
    )
})

/** The messaging attributes of the consumer span of a first delivery on `task.run.p`. */
const consumerAttributes = (names: ReturnType<typeof makeNames>) => ({
  "messaging.system": "nats",
  "messaging.operation.type": "process",
  "messaging.destination.name": "task.run.p",
  "messaging.consumer.group.name": names.consumers.pool("p"),
  "messaging.nats.message.delivery_count": 1,
  "messaging.nats.stream.sequence": 1,
  "switchyard.pool": "p"
})

/** A leased message carrying a task, with its settlement left to the caller. */
const taskMessage = (task: Record<string, unknown>, headers: Record<string, string> = {}): JobMessage => ({
  subject: "task.run.p",
  data: Codec.encodeJson({ version: 1, runId: "r-1", stage: "s", attempt: 1, ...task }),
  headers: { [Codec.TypeHeader]: WireType.TaskRun, ...headers },
  seq: 1,
  deliveryCount: 1,
  ack: Effect.void,
  nak: () => Effect.void,
  term: () => Effect.void,
  working: Effect.void
})

/** A handler on a fresh memory bus, the results it published, and the spans it opened. */
const setup = Effect.gen(function* () {
  const bus = yield* Bus
  const names = makeNames(uniquePrefix("handler"))
  yield* bus.ensureStream(resultsStream(names))
  yield* bus.ensureConsumer({
    stream: names.streams.results,
    durable: "test",
    filterSubject: names.taskResultAll,
    ackWait: "30 seconds",
    maxDeliver: 1,
    maxAckPending: 100
  })
  const clock = yield* Clock.Clock
  const blobs = MemoryBlobStore.make()
  const handle = makeTaskHandler({
    bus,
    names,
    settings,
    catalog: StageCatalog.make([upper, gate]),
    rejections: () => new Map(),
    leases: new LeaseKeeper({ clock, interval: settings.progressInterval }),
    running: new RunningTasks(),
    blobs,
    clock
  })
  const results = yield* bus.consume({ stream: names.streams.results, durable: "test", slots: 100 })
  const nextResult = results.pipe(
    Stream.take(1),
    Stream.runHead,
    Effect.flatMap(Effect.fromOption),
    Effect.flatMap(Codec.decode(TaskResult, WireType.TaskResult))
  )
  const spans: Array<Tracer.Span> = []
  const tracer = Tracer.make({
    span(options) {
      const span = new Tracer.NativeSpan(options)
      spans.push(span)
      return span
    }
  })
  return { handle: (message: JobMessage) => Effect.withTracer(handle(message), tracer), nextResult, spans, blobs, names }
})

describe("the task handler", () => {
  it.effect("handles a task in one span naming its stage type, task and attempt, continuing the sender's trace", () =>
    Effect.gen(function* () {
      const { handle, names, nextResult, spans } = yield* setup
      const decision = yield* handle(
        taskMessage({ taskId: "t-1", stageType: "test.upper", inputs: "abc" }, { traceparent: `00-${traceId}-${senderSpanId}-01` })
      )
      assert.strictEqual(decision._tag, "Ack")
      const result = yield* nextResult
      assert.strictEqual(outputOf(result), "ABC")
      // Started in this order: the consumer's, the stage's, then the result's producer span.
      assert.deepStrictEqual(
        spans.map((span) => [span.name, span.kind]),
        [
          ["process task.run.p", "consumer"],
          ["stage test.upper", "internal"],
          ["send task.result", "producer"]
        ]
      )
      const [consumer, stage, producer] = spans
      assert.strictEqual(consumer!.traceId, traceId)
      assert.strictEqual(Option.getOrUndefined(consumer!.parent)?.spanId, senderSpanId)
      assert.strictEqual(Option.getOrUndefined(stage!.parent)?.spanId, consumer!.spanId)
      assert.strictEqual(Option.getOrUndefined(producer!.parent)?.spanId, consumer!.spanId)
      const task = {
        "switchyard.run.id": "r-1",
        "switchyard.stage": "s",
        "switchyard.stage.type": "test.upper",
        "switchyard.task.id": "t-1",
        "switchyard.attempt": 1
      }
      assert.deepStrictEqual(Object.fromEntries(consumer!.attributes), {
        ...consumerAttributes(names),
        "messaging.message.id": "t-1:1",
        ...task
      })
      assert.deepStrictEqual(Object.fromEntries(stage!.attributes), task)
      assert.include(Object.fromEntries(producer!.attributes), {
        "messaging.system": "nats",
        "messaging.destination.name": names.taskResult("r-1"),
        "messaging.message.id": "t-1:1",
        "switchyard.task.outcome": "succeeded"
      })
      for (const span of spans) assert.strictEqual(span.status._tag, "Ended")
    }).pipe(Effect.provide(MemoryBus.layer))
  )

  it.effect("shows a gate that waits as an event of the task's span, naming what it waits for", () =>
    Effect.gen(function* () {
      const { handle, nextResult, spans } = yield* setup
      yield* handle(taskMessage({ taskId: "t-gate", stageType: "test.gate", inputs: {} }))
      assert.strictEqual((yield* nextResult).status, "waiting")
      const consumer = spans.find((span) => span.name === "process task.run.p") as Tracer.NativeSpan | undefined
      assert.deepStrictEqual(
        consumer?.events.map(([name, , attributes]) => [name, attributes]),
        [
          [
            "switchyard.gate.waiting",
            { "switchyard.gate.message": "waiting for approval", "switchyard.gate.unmet": "ledger.approved is true" }
          ]
        ]
      )
    }).pipe(Effect.provide(MemoryBus.layer))
  )

  it.effect("never reports a stage that finished synchronously as timed out, however short its timeout", () =>
    Effect.gen(function* () {
      const { handle, nextResult } = yield* setup
      yield* handle(taskMessage({ taskId: "t-2", stageType: "test.upper", inputs: "x", timeoutMs: 0 }))
      const result = yield* nextResult
      assert.strictEqual(result.status, "succeeded")
      assert.strictEqual(outputOf(result), "X")
    }).pipe(Effect.provide(MemoryBus.layer))
  )

  it.effect("renders the vars of the task's templates only, never text of its inputs or of a blob (data, not templates)", () =>
    Effect.gen(function* () {
      const { blobs, handle, nextResult } = yield* setup
      const templates = [{ path: [], parts: ["hi ", { root: "vars", key: "NAME" }] }]
      yield* handle(taskMessage({ taskId: "t-3", stageType: "test.upper", inputs: "hi {{ vars.NAME }}", vars: { NAME: "ada" }, templates }))
      assert.strictEqual(outputOf(yield* nextResult), "HI ADA")
      // The same text without a template is data.
      yield* handle(taskMessage({ taskId: "t-3b", stageType: "test.upper", inputs: "hi {{ vars.NAME }}", vars: { NAME: "ada" } }))
      assert.strictEqual(outputOf(yield* nextResult), "HI {{ VARS.NAME }}")
      // A template naming no string of the inputs fails the task, saying where.
      yield* handle(
        taskMessage({
          taskId: "t-3c",
          stageType: "test.upper",
          inputs: "x",
          vars: { NAME: "ada" },
          templates: [{ path: ["a", 0], parts: ["y"] }]
        })
      )
      const stray = errorOf(yield* nextResult)!
      assert.strictEqual(stray.tag, "TemplatePathError")
      assert.include(stray.message, "a[0]")
      const ref = yield* storeJson("data mentioning {{ vars.NAME }}").pipe(Effect.provideService(BlobStore, blobs))
      yield* handle(taskMessage({ taskId: "t-4", stageType: "test.upper", inputs: ref, vars: { NAME: "ada" } }))
      assert.strictEqual(outputOf(yield* nextResult), "DATA MENTIONING {{ VARS.NAME }}")
    }).pipe(Effect.provide(MemoryBus.layer))
  )

  it.effect("fails a task whose input blob is missing with InputBlobError naming the stage and the blob", () =>
    Effect.gen(function* () {
      const { handle, nextResult } = yield* setup
      const missing = { $blob: `sha256:${"ab".repeat(32)}`, size: 10, mediaType: "application/json" }
      yield* handle(taskMessage({ taskId: "t-5", stageType: "test.upper", inputs: missing }))
      const error = errorOf(yield* nextResult)!
      assert.strictEqual(error.tag, "InputBlobError")
      assert.include(error.message, `stage "s"`)
      assert.include(error.message, missing.$blob)
      assert.isFalse(error.retryable)
    }).pipe(Effect.provide(MemoryBus.layer))
  )

  it.effect("terminates a malformed task inside a span of its own, publishing nothing", () =>
    Effect.gen(function* () {
      const { handle, names, spans } = yield* setup
      const decision = yield* handle(taskMessage({ taskId: 5, stageType: "test.upper", inputs: "x" }))
      assert.strictEqual(decision._tag, "Term")
      assert.include(decision._tag === "Term" ? decision.reason : "", "taskId")
      assert.deepStrictEqual(
        spans.map((span) => span.name),
        ["process task.run.p"]
      )
      assert.deepStrictEqual(Object.fromEntries(spans[0]!.attributes), consumerAttributes(names))
    }).pipe(Effect.provide(MemoryBus.layer))
  )
})
