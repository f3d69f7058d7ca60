/**
 * Behaviour of `SwitchyardClient`, run once per bus adapter. The other side
 * is real bus code written here: a run.submit/run.cancel responder that
 * publishes run events, and a pool replica that consumes the tasks stream
 * and publishes results the way an executor does.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect, Fiber, Layer, Option, Ref, Stream } from "effect"
import type { Scope } from "effect"
import { WireType } from "../../schemas/Catalog.ts"
import {
  LedgerUpdate,
  LedgerUpdateReply,
  PipelineIssue,
  RunCancel,
  RunCancelReply,
  RunEvent,
  RunSubmit,
  RunSubmitReply
} from "../../schemas/Run.ts"
import { makeTaskResult, TaskResult, TaskRun } from "../../schemas/Task.ts"
import { PipelineInvalidError, SwitchyardClient, TaskResultTimeoutError } from "../../sdk/client.ts"
import { Bus } from "../../services/bus/Bus.ts"
import type { BusError } from "../../services/bus/BusError.ts"
import { decode, encode } from "../../schemas/Codec.ts"
import { resultsStream, tasksStream } from "../../services/bus/Streams.ts"
import { makeNames, Subjects } from "../../schemas/Subjects.ts"
import type { Names } from "../../schemas/Subjects.ts"
import { TraceparentHeader } from "../../schemas/TraceContext.ts"
import { eventually } from "../support/eventually.ts"
import { errorOf, outputOf } from "../support/results.ts"
import { makeEvent } from "../support/events.ts"

/** Builds a bus for one test, isolated by the names' prefix. */
export type BusFactory = (names: Names) => Layer.Layer<Bus, BusError>

let counter = 0
/** A prefix no other test uses, even on a shared server. */
export const uniqueNames = (label: string): Names =>
  makeNames(`${label}${process.pid}x${(counter++).toString(36)}x${Math.floor(Math.random() * 1e9).toString(36)}`)

/** What the run.submit responder saw and does. */
interface Submitted {
  readonly request: RunSubmit
  readonly headers: Readonly<Record<string, string>>
}

const event = (runId: string, seq: number, kind: RunEvent["kind"], extra: Record<string, unknown> = {}) =>
  makeEvent({ version: 1, runId, seq, at: 1_700_000_000_000 + seq, kind, ...extra } as typeof RunEvent.Encoded)

/**
 * Answers run.submit: a pipeline whose text contains `broken` gets issues;
 * any other is accepted, `run.started` is published before the reply and the
 * rest of the events after it, with one more event after `run.finished`.
 */
const runSubmitResponder = Effect.fn("test.runSubmitResponder")(function* (seen: Ref.Ref<ReadonlyArray<Submitted>>) {
  const bus = yield* Bus
  const names = yield* Subjects
  const publish = (value: RunEvent) => {
    const message = encode(RunEvent, WireType.RunEvent, value)
    return bus.publish(names.runEvent(value.runId), message.data, { headers: message.headers })
  }
  const reply = (request: { readonly reply: string | undefined }, value: RunSubmitReply) => {
    const message = encode(RunSubmitReply, WireType.RunSubmitReply, value)
    return bus.respond(request as never, message.data, { headers: message.headers })
  }
  const submits = yield* bus.subscribe(names.runSubmit, { queue: "scheduler" })
  yield* submits.pipe(
    Stream.runForEach((message) =>
      Effect.gen(function* () {
        const request = yield* decode(RunSubmit, WireType.RunSubmit)(message)
        yield* Ref.update(seen, (all) => [...all, { request, headers: message.headers }])
        if (request.text.includes("broken")) {
          return yield* bus.respond(
            message,
            encode(
              RunSubmitReply,
              WireType.RunSubmitReply,
              new RunSubmitReply({
                version: 1,
                issues: [
                  new PipelineIssue({
                    file: request.file,
                    line: 3,
                    column: 11,
                    stage: "greet",
                    path: "stages[0].type",
                    message: "unknown stage type broken.stage"
                  })
                ]
              })
            ).data
          )
        }
        const runId = request.runId ?? "assigned"
        yield* publish(event(runId, 1, "run.started"))
        yield* reply(message, new RunSubmitReply({ version: 1, runId, issues: [] }))
        yield* publish(
          event(runId, 2, "stage.finished", {
            stage: "greet",
            stageType: "hello.greet",
            attempt: 1,
            executorId: "e-1",
            durationMs: 3,
            count: 1
          })
        )
        yield* publish(event(runId, 3, "run.finished", { status: "succeeded", state: { greeting: "hello" } }))
        yield* publish(event(runId, 4, "stage.started", { stage: "late", stageType: "hello.greet", attempt: 1 }))
      })
    ),
    Effect.forkScoped
  )
  const cancels = yield* bus.subscribe(names.runCancel, { queue: "scheduler" })
  yield* cancels.pipe(
    Stream.runForEach((message) =>
      Effect.gen(function* () {
        const request = yield* decode(RunCancel, WireType.RunCancel)(message)
        const answer = new RunCancelReply({ version: 1, runId: request.runId, cancelled: true, status: request.reason ?? "cancelled" })
        const encoded = encode(RunCancelReply, WireType.RunCancelReply, answer)
        yield* bus.respond(message, encoded.data, { headers: encoded.headers })
      })
    ),
    Effect.forkScoped
  )
})

/** One replica of `pool`: consumes its tasks and publishes a greeting as the result, as an executor would. */
export const poolReplica = Effect.fn("test.poolReplica")(function* (pool: string) {
  const bus = yield* Bus
  const names = yield* Subjects
  yield* bus.ensureStream(tasksStream(names))
  yield* bus.ensureStream(resultsStream(names))
  yield* bus.ensureConsumer({
    stream: names.streams.tasks,
    durable: names.consumers.pool(pool),
    filterSubject: names.taskRun(pool),
    ackWait: "30 seconds",
    maxDeliver: 3,
    maxAckPending: 4
  })
  const jobs = yield* bus.consume({ stream: names.streams.tasks, durable: names.consumers.pool(pool), slots: 2 })
  yield* jobs.pipe(
    Stream.runForEach((job) =>
      Effect.gen(function* () {
        const task = yield* decode(TaskRun, WireType.TaskRun)(job)
        const name = (task.inputs as { readonly name?: string }).name
        const result = makeTaskResult({
          version: 1,
          taskId: task.taskId,
          runId: task.runId,
          stage: task.stage,
          stageType: task.stageType,
          attempt: task.attempt,
          executorId: "replica-1",
          pool,
          ...(name === undefined
            ? { status: "failed" as const, error: { tag: "InvalidInputError", message: "expected a name", retryable: false } }
            : { status: "succeeded" as const, output: { greeting: `hello ${name}`, traceparent: job.headers[TraceparentHeader] ?? null } }),
          durationMs: 1
        })
        const message = encode(TaskResult, WireType.TaskResult, result)
        yield* bus.enqueue(task.replyTo ?? names.taskResult(task.runId), message.data, {
          msgId: `${task.taskId}:${task.attempt}`,
          headers: message.headers
        })
        yield* job.ack
      })
    ),
    Effect.forkScoped
  )
})

/** The client plus the bus it talks over, both under `names`. */
const provideClient =
  (bus: BusFactory, names: Names) =>
  <A, E>(self: Effect.Effect<A, E, SwitchyardClient | Bus | Scope.Scope>) =>
    self.pipe(
      Effect.scoped,
      Effect.provide(SwitchyardClient.layer.pipe(Layer.provideMerge(bus(names)))),
      Effect.provideService(Subjects, names)
    )

/** The client's behaviour over one bus adapter. */
export const clientSuite = (adapter: string, bus: BusFactory) =>
  describe(`SwitchyardClient over the ${adapter} bus`, () => {
    it.live("streams a submitted run's events, including one sent before the submit was answered, and ends after run.finished", () =>
      Effect.gen(function* () {
        const seen = yield* Ref.make<ReadonlyArray<Submitted>>([])
        yield* runSubmitResponder(seen)
        const client = yield* SwitchyardClient
        const run = yield* client.submitRun({ pipeline: "name: hello\nstages: []\n", runId: "run-1", inputs: { who: "Ada" } })
        assert.strictEqual(run.runId, "run-1")
        const events = yield* run.events.pipe(Stream.runCollect, Effect.timeout("10 seconds"))
        assert.deepStrictEqual(
          events.map((e) => [e.seq, e.kind]),
          [
            [1, "run.started"],
            [2, "stage.finished"],
            [3, "run.finished"]
          ]
        )
        const last = events[2]
        assert.strictEqual(last?.kind === "run.finished" ? last.status : undefined, "succeeded")
        const [submitted] = yield* Ref.get(seen)
        assert.deepStrictEqual(submitted?.request.inputs, { who: "Ada" })
        assert.strictEqual(submitted?.request.file, "pipeline.yaml")
        assert.strictEqual(submitted?.headers["switchyard-type"], "RunSubmit/1")
      }).pipe(provideClient(bus, uniqueNames("sdksubmit")))
    )

    it.live("sends the submit again with the same run id when a scheduler does not answer, and follows the run", () =>
      Effect.gen(function* () {
        const busService = yield* Bus
        const names = yield* Subjects
        // The first submit is taken and never answered, as by a scheduler that died after starting the run.
        const swallowed = yield* Ref.make<ReadonlyArray<RunSubmit>>([])
        const first = yield* busService.subscribe(names.runSubmit)
        yield* first.pipe(
          Stream.take(1),
          Stream.mapEffect(decode(RunSubmit, WireType.RunSubmit)),
          Stream.runForEach((request) => Ref.update(swallowed, (all) => [...all, request])),
          Effect.forkScoped
        )
        const seen = yield* Ref.make<ReadonlyArray<Submitted>>([])
        const client = yield* SwitchyardClient
        const submitted = yield* Effect.forkScoped(client.submitRun({ pipeline: "name: hello\nstages: []\n", timeout: "3 seconds" }))
        yield* eventually("the first submit to be swallowed", Ref.get(swallowed).pipe(Effect.map((all) => all.length === 1)))
        yield* runSubmitResponder(seen)
        const run = yield* Fiber.join(submitted)
        const [lost] = yield* Ref.get(swallowed)
        const [answered] = yield* Ref.get(seen)
        assert.strictEqual(answered?.request.runId, lost?.runId)
        assert.strictEqual(run.runId, lost?.runId)
        const events = yield* run.events.pipe(Stream.runCollect, Effect.timeout("10 seconds"))
        assert.strictEqual(events.at(-1)?.kind, "run.finished")
      }).pipe(provideClient(bus, uniqueNames("sdkresubmit")))
    )

    it.live("chooses a fresh run id when the caller gives none and sends a pipeline object as JSON text", () =>
      Effect.gen(function* () {
        const seen = yield* Ref.make<ReadonlyArray<Submitted>>([])
        yield* runSubmitResponder(seen)
        const client = yield* SwitchyardClient
        const pipeline = { name: "hello", stages: [{ name: "greet", type: "hello.greet" }] }
        const run = yield* client.submitRun({ pipeline })
        const [submitted] = yield* Ref.get(seen)
        assert.match(run.runId, /^[0-9a-f-]{36}$/)
        assert.strictEqual(submitted?.request.runId, run.runId)
        assert.strictEqual(submitted?.request.file, "pipeline.json")
        assert.deepStrictEqual(JSON.parse(submitted?.request.text ?? ""), pipeline)
        const last = yield* run.events.pipe(Stream.runLast, Effect.timeout("10 seconds"))
        assert.strictEqual(Option.getOrUndefined(last)?.kind, "run.finished")
      }).pipe(provideClient(bus, uniqueNames("sdkobject")))
    )

    it.live("fails with PipelineInvalidError carrying the scheduler's issues", () =>
      Effect.gen(function* () {
        yield* runSubmitResponder(yield* Ref.make<ReadonlyArray<Submitted>>([]))
        const client = yield* SwitchyardClient
        const error = yield* Effect.flip(client.submitRun({ pipeline: "name: broken\n", file: "flows/broken.yaml" }))
        assert.instanceOf(error, PipelineInvalidError)
        if (!(error instanceof PipelineInvalidError)) return
        assert.strictEqual(error.file, "flows/broken.yaml")
        assert.deepStrictEqual(
          error.issues.map((issue) => [issue.path, issue.line, issue.column]),
          [["stages[0].type", 3, 11]]
        )
        assert.include(error.message, "flows/broken.yaml:3:11")
      }).pipe(provideClient(bus, uniqueNames("sdkinvalid")))
    )

    it.live("refuses a var name the scheduler would refuse with PipelineInvalidError, without sending anything", () =>
      Effect.gen(function* () {
        const seen = yield* Ref.make<ReadonlyArray<Submitted>>([])
        yield* runSubmitResponder(seen)
        const client = yield* SwitchyardClient
        const error = yield* Effect.flip(
          client.submitRun({ pipeline: "name: v\nstages: []\n", file: "flows/v.yaml", vars: { "a-b": "x" } })
        )
        assert.instanceOf(error, PipelineInvalidError)
        if (!(error instanceof PipelineInvalidError)) return
        assert.deepStrictEqual(
          error.issues.map((issue) => [issue.file, issue.path]),
          [["flows/v.yaml", "vars.a-b"]]
        )
        assert.include(error.issues[0]?.message ?? "", "var name")
        assert.lengthOf(yield* Ref.get(seen), 0)
      }).pipe(provideClient(bus, uniqueNames("sdkbadvar")))
    )

    it.live("sends the caller's trace context with the submit", () =>
      Effect.gen(function* () {
        const seen = yield* Ref.make<ReadonlyArray<Submitted>>([])
        yield* runSubmitResponder(seen)
        const client = yield* SwitchyardClient
        const traceId = yield* Effect.gen(function* () {
          yield* client.submitRun({ pipeline: "name: hello\nstages: []\n" })
          return (yield* Effect.currentSpan).traceId
        }).pipe(Effect.withSpan("caller"))
        const [submitted] = yield* Ref.get(seen)
        assert.match(submitted?.headers[TraceparentHeader] ?? "", new RegExp(`^00-${traceId}-[0-9a-f]{16}-0[01]$`))
      }).pipe(provideClient(bus, uniqueNames("sdktrace")))
    )

    it.live("cancels a run through run.cancel and returns the scheduler's answer", () =>
      Effect.gen(function* () {
        yield* runSubmitResponder(yield* Ref.make<ReadonlyArray<Submitted>>([]))
        const client = yield* SwitchyardClient
        const reply = yield* client.cancelRun("run-9", "operator asked")
        assert.deepStrictEqual(
          { runId: reply.runId, cancelled: reply.cancelled, status: reply.status },
          {
            runId: "run-9",
            cancelled: true,
            status: "operator asked"
          }
        )
      }).pipe(provideClient(bus, uniqueNames("sdkcancel")))
    )

    it.live("publishes ledger fields on ledger.update.<runId> with their source", () =>
      Effect.gen(function* () {
        const busService = yield* Bus
        const names = yield* Subjects
        const received = yield* Ref.make<ReadonlyArray<LedgerUpdate>>([])
        const updates = yield* busService.subscribe(names.ledgerUpdateAll, { queue: "scheduler" })
        yield* updates.pipe(
          Stream.runForEach((message) =>
            Effect.gen(function* () {
              const update = yield* decode(LedgerUpdate, WireType.LedgerUpdate)(message)
              yield* Ref.update(received, (all) => [...all, update])
              const answer = encode(
                LedgerUpdateReply,
                WireType.LedgerUpdateReply,
                new LedgerUpdateReply({ version: 1, runId: update.runId, applied: true, status: "running" })
              )
              yield* busService.respond(message, answer.data, { headers: answer.headers })
            })
          ),
          Effect.forkScoped
        )
        const client = yield* SwitchyardClient
        const reply = yield* client.updateLedger("run-7", { approved: true, reviewer: { name: "Ada" } }, { source: "review-ui" })
        assert.deepStrictEqual([reply.runId, reply.applied, reply.status], ["run-7", true, "running"])
        const [update] = yield* Ref.get(received)
        assert.strictEqual(update?.runId, "run-7")
        assert.deepStrictEqual(update?.fields, { approved: true, reviewer: { name: "Ada" } })
        assert.strictEqual(update?.source, "review-ui")
      }).pipe(provideClient(bus, uniqueNames("sdkledger")))
    )

    it.live("runs a standalone task on a pool and returns its result", () =>
      Effect.gen(function* () {
        yield* poolReplica("greeters")
        const client = yield* SwitchyardClient
        const { result, traceId } = yield* Effect.gen(function* () {
          const result = yield* client.runTask({ stageType: "hello.greet", pool: "greeters", inputs: { name: "Ada" }, timeoutMs: 5000 })
          return { result, traceId: (yield* Effect.currentSpan).traceId }
        }).pipe(Effect.withSpan("caller"))
        assert.strictEqual(result.status, "succeeded")
        assert.strictEqual(result.runId, "")
        assert.strictEqual(result.stageType, "hello.greet")
        const output = outputOf(result) as { readonly greeting: string; readonly traceparent: string | null }
        assert.strictEqual(output.greeting, "hello Ada")
        assert.include(output.traceparent ?? "", traceId)
      }).pipe(provideClient(bus, uniqueNames("sdktask")))
    )

    it.live("returns a failed task's result with its error", () =>
      Effect.gen(function* () {
        yield* poolReplica("greeters")
        const client = yield* SwitchyardClient
        const result = yield* client.runTask({ stageType: "hello.greet", pool: "greeters", inputs: {} })
        assert.strictEqual(result.status, "failed")
        const error = errorOf(result)
        assert.deepStrictEqual(error && { tag: error.tag, retryable: error.retryable }, {
          tag: "InvalidInputError",
          retryable: false
        })
      }).pipe(provideClient(bus, uniqueNames("sdktaskfail")))
    )

    it.live("fails with TaskResultTimeoutError when no replica answers in time", () =>
      Effect.gen(function* () {
        const busService = yield* Bus
        const names = yield* Subjects
        yield* busService.ensureStream(tasksStream(names))
        const client = yield* SwitchyardClient
        const error = yield* Effect.flip(client.runTask({ stageType: "hello.greet", pool: "nobody", inputs: {}, waitMs: 300 }))
        assert.instanceOf(error, TaskResultTimeoutError)
        if (!(error instanceof TaskResultTimeoutError)) return
        assert.strictEqual(error.pool, "nobody")
        assert.strictEqual(error.timeoutMs, 300)
      }).pipe(provideClient(bus, uniqueNames("sdktimeout")))
    )

    it.live("watches the events of every run, past their run.finished", () =>
      Effect.gen(function* () {
        const seen = yield* Ref.make<ReadonlyArray<Submitted>>([])
        yield* runSubmitResponder(seen)
        const client = yield* SwitchyardClient
        const watched = yield* client.watchRuns()
        const collected = yield* watched.pipe(Stream.take(8), Stream.runCollect, Effect.forkScoped)
        for (const runId of ["watch-a", "watch-b"]) {
          const run = yield* client.submitRun({ pipeline: "name: hello\nstages: []\n", runId })
          yield* run.events.pipe(Stream.runDrain)
        }
        const events = yield* Fiber.join(collected).pipe(Effect.timeout("10 seconds"))
        assert.deepStrictEqual(
          events.map((e) => `${e.runId}:${e.kind}`),
          [
            "watch-a:run.started",
            "watch-a:stage.finished",
            "watch-a:run.finished",
            "watch-a:stage.started",
            "watch-b:run.started",
            "watch-b:stage.finished",
            "watch-b:run.finished",
            "watch-b:stage.started"
          ]
        )
      }).pipe(provideClient(bus, uniqueNames("sdkwatch")))
    )

    it.live("reads a run's record from the run-state bucket, and says when there is none or it is unreadable", () =>
      Effect.gen(function* () {
        const names = yield* Subjects
        const kv = yield* (yield* Bus).kv(names.buckets.runs)
        const record = {
          version: 1,
          runId: "stored-1",
          file: "p.yaml",
          pipeline: { name: "p", stages: [] },
          inputs: {},
          status: "running",
          state: { greeting: "hi" },
          ledger: { pdf_ir_ready: true },
          types: {},
          stages: {},
          seq: 3,
          createdAt: 1
        }
        yield* kv.put("stored-1", new TextEncoder().encode(JSON.stringify(record)))
        yield* kv.put("garbled", new TextEncoder().encode("{not json"))
        const client = yield* SwitchyardClient
        const found = yield* client.getRun("stored-1")
        assert.isTrue(Option.isSome(found))
        assert.deepStrictEqual(Option.map(found, (run) => [run.status, run.state, run.ledger]).pipe(Option.getOrNull), [
          "running",
          { greeting: "hi" },
          { pdf_ir_ready: true }
        ])
        assert.isTrue(Option.isNone(yield* client.getRun("missing")))
        const error = yield* Effect.flip(client.getRun("garbled"))
        assert.strictEqual(error._tag, "RunRecordUnreadableError")
      }).pipe(provideClient(bus, uniqueNames("sdkgetrun")))
    )
  })
