/**
 * The executor's behaviour over a bus, run once per bus adapter: the
 * in-memory bus (`Executor.test.ts`) and a real nats-server
 * (`Executor.integration.test.ts`).
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect, Ref, Schema, Stream } from "effect"
import type { Layer, Scope } from "effect"
import type { Bus } from "../../../services/bus/Bus.ts"
import * as Codec from "../../../schemas/Codec.ts"
import { WireType } from "../../../schemas/Catalog.ts"
import { Heartbeat } from "../../../schemas/Registry.ts"
import { stages as helloStages } from "../../../plugins/hello/index.ts"
import { defineStage } from "../../../sdk/defineStage.ts"
import type { StageDefinition } from "../../../sdk/defineStage.ts"
import { eventually } from "../../support/eventually.ts"
import { makeHarness, makeProbe, StageRejection } from "./harness.ts"
import { errorOf, outputOf } from "../../support/results.ts"

const decoder = new TextDecoder()

/** `probe.overlap`: sleeps `ms`, noting how many other tasks of the probe were running at any point meanwhile. */
const makeOverlapProbe = () => {
  const running = new Set<string>()
  const overlapped = new Map<string, number>()
  const definition = defineStage({
    type: "probe.overlap",
    version: "1.0.0",
    description: "test probe",
    plugin: "probe",
    stateKey: null,
    output: "none",
    count: "none",
    inputs: Schema.Struct({ ms: Schema.Int }),
    outputs: Schema.Null,
    run: ({ ms }, ctx) =>
      Effect.acquireUseRelease(
        Effect.sync(() => {
          for (const other of running) overlapped.set(other, (overlapped.get(other) ?? 0) + 1)
          overlapped.set(ctx.taskId, running.size)
          running.add(ctx.taskId)
        }),
        () => Effect.sleep(ms).pipe(Effect.as(null)),
        () => Effect.sync(() => running.delete(ctx.taskId))
      )
  })
  return { definition, overlapped }
}
const overlapProbe = makeOverlapProbe()

/**
 * Replica-a of pool `p` (one slot, a 1 s lease) takes a task of `stageType` and hangs on it (the
 * task's type served by a stage that never ends by itself); returns the task once replica-a holds
 * it, the probe that saw it start and abort, and `stop`, which stops replica-a without settling the
 * task, so it comes back as a redelivery, as after a crash.
 */
const heldByDyingReplica = (
  h: Effect.Success<ReturnType<typeof makeHarness>>,
  metadata: StageDefinition["metadata"],
  stageType: string,
  inputs: Schema.Json
) =>
  Effect.gen(function* () {
    const dying = makeProbe()
    const hangAs = { ...dying.definitions.hang, metadata }
    const a = yield* h.startReplica({
      pool: "p",
      executorId: "replica-a",
      slots: 1,
      ackWait: "1 second",
      shutdownGrace: 0,
      definitions: [hangAs]
    })
    const task = yield* h.submit("p", { stageType, inputs })
    yield* eventually(
      "replica-a holds the task",
      Effect.map(a.executor.inFlight, (n) => n === 1)
    )
    return { task, dying, stop: a.stop }
  })

/** Registers the executor tests for one bus. */
export const executorSuite = (label: string, busLayer: () => Layer.Layer<Bus, unknown>) => {
  const run = <A, E>(test: Effect.Effect<A, E, Bus | Scope.Scope>) => test.pipe(Effect.scoped, Effect.provide(busLayer()))

  describe(`Executor over ${label}`, () => {
    it.live("runs a task and publishes its output on task.result.<runId>", () =>
      run(
        Effect.gen(function* () {
          const h = yield* makeHarness("run")
          yield* h.startReplica({ pool: "hello", executorId: "replica-a", definitions: helloStages })
          const task = yield* h.submit("hello", { stageType: "hello.greet", runId: "run-42", inputs: { name: "Ada" } })
          const { result } = yield* h.resultOf(task.taskId)
          assert.strictEqual(result.status, "succeeded")
          assert.deepStrictEqual(outputOf(result), { greeting: "Hello, Ada!" })
          assert.strictEqual(result.runId, "run-42")
          assert.strictEqual(result.executorId, "replica-a")
          assert.strictEqual(result.pool, "hello")
          assert.strictEqual(result.attempt, 1)
        })
      )
    )

    it.live("sends the result to the task's replyTo subject when it names one", () =>
      run(
        Effect.gen(function* () {
          const h = yield* makeHarness("reply")
          yield* h.startReplica({ pool: "hello", definitions: helloStages })
          const replyTo = h.names.taskResult("standalone-caller")
          const task = yield* h.submit("hello", { stageType: "hello.shout", runId: "", replyTo, inputs: { text: "hi" } })
          const { result } = yield* h.resultOf(task.taskId)
          assert.strictEqual(outputOf(result), "HI")
        })
      )
    )

    it.live("reports a throwing stage as a failed, retryable result carrying the error", () =>
      run(
        Effect.gen(function* () {
          const h = yield* makeHarness("throw")
          const probe = makeProbe()
          yield* h.startReplica({ pool: "p", definitions: [probe.definitions.throws, ...helloStages] })
          const thrown = yield* h.submit("p", { stageType: "probe.throw", inputs: null })
          const failed = yield* h.submit("p", { stageType: "hello.fail", inputs: { message: "no luck", retryable: false } })
          const first = (yield* h.resultOf(thrown.taskId)).result
          assert.strictEqual(first.status, "failed")
          assert.strictEqual(errorOf(first)?.tag, "SyntaxError")
          assert.isTrue(errorOf(first)?.retryable)
          assert.notInclude(JSON.stringify(first), '"output"')
          const second = (yield* h.resultOf(failed.taskId)).result
          assert.deepStrictEqual({ ...errorOf(second) }, { tag: "StageError", message: "no luck", retryable: false })
        })
      )
    )

    it.live("replaces a result larger than the bus carries with a failed, non-retryable ResultTooLargeError", () =>
      run(
        Effect.gen(function* () {
          const h = yield* makeHarness("huge")
          yield* h.startReplica({ pool: "p", definitions: helloStages, maxResultBytes: 2_000 })
          const small = yield* h.submit("p", { stageType: "hello.reverse", inputs: { text: "short" } })
          const huge = yield* h.submit("p", { stageType: "hello.reverse", inputs: { text: "x".repeat(5_000) } })
          assert.strictEqual((yield* h.resultOf(small.taskId)).result.status, "succeeded")
          const { result } = yield* h.resultOf(huge.taskId)
          assert.strictEqual(result.status, "failed")
          assert.strictEqual(errorOf(result)?.tag, "ResultTooLargeError")
          assert.isFalse(errorOf(result)?.retryable)
          assert.match(errorOf(result)!.message, /^the result of stage hello\.reverse is \d{4} bytes encoded, over the limit of 2000 /)
        })
      )
    )

    it.live("fails a task whose inputs do not match the stage's schema without retrying it", () =>
      run(
        Effect.gen(function* () {
          const h = yield* makeHarness("badin")
          yield* h.startReplica({ pool: "hello", definitions: helloStages })
          const task = yield* h.submit("hello", { stageType: "hello.greet", inputs: { name: 7 } })
          const { result } = yield* h.resultOf(task.taskId)
          assert.strictEqual(errorOf(result)?.tag, "InvalidInputError")
          assert.include(errorOf(result)?.message ?? "", "name")
          assert.isFalse(errorOf(result)?.retryable)
        })
      )
    )

    it.live("interrupts a stage that outlives its timeout, aborts its signal and reports StageTimeoutError", () =>
      run(
        Effect.gen(function* () {
          const h = yield* makeHarness("timeout")
          const probe = makeProbe()
          yield* h.startReplica({ pool: "p", definitions: [probe.definitions.hang, ...helloStages] })
          const hung = yield* h.submit("p", { stageType: "probe.hang", inputs: null, timeoutMs: 200 })
          const slept = yield* h.submit("p", { stageType: "hello.sleep", inputs: { ms: 60_000 }, timeoutMs: 150 })
          const first = (yield* h.resultOf(hung.taskId)).result
          assert.strictEqual(first.status, "failed")
          assert.strictEqual(errorOf(first)?.tag, "StageTimeoutError")
          assert.isTrue(errorOf(first)?.retryable)
          assert.include(errorOf(first)?.message ?? "", "200 ms")
          // The error's own fields cross the wire as data, not only inside the message.
          assert.deepStrictEqual(errorOf(first)?.fields, { stageType: "probe.hang", taskId: hung.taskId, timeoutMs: 200 })
          assert.isTrue(probe.aborted.has(hung.taskId))
          const second = (yield* h.resultOf(slept.taskId)).result
          assert.strictEqual(errorOf(second)?.tag, "StageTimeoutError")
          assert.isBelow(second.durationMs, 5_000)
        })
      )
    )

    it.live("fails a task whose stage type the pool does not serve with UnknownStageError", () =>
      run(
        Effect.gen(function* () {
          const h = yield* makeHarness("unknown")
          yield* h.startReplica({ pool: "hello", definitions: helloStages })
          const task = yield* h.submit("hello", { stageType: "acme/http.get", inputs: {} })
          const { result } = yield* h.resultOf(task.taskId)
          assert.strictEqual(errorOf(result)?.tag, "UnknownStageError")
          assert.isFalse(errorOf(result)?.retryable)
          assert.deepStrictEqual([errorOf(result)?.fields?.["stageType"], errorOf(result)?.fields?.["pool"]], ["acme/http.get", "hello"])
          assert.include(errorOf(result)?.message ?? "", "acme/http.get")
        })
      )
    )

    it.live(
      "keeps the lease of a task that runs longer than the ack wait, so it is not redelivered",
      () =>
        run(
          Effect.gen(function* () {
            const h = yield* makeHarness("lease")
            const probe = makeProbe()
            yield* h.startReplica({ pool: "p", slots: 2, ackWait: "1 second", definitions: [probe.definitions.sleep] })
            const task = yield* h.submit("p", { stageType: "probe.sleep", inputs: { ms: 3_000 } })
            const { result } = yield* h.resultOf(task.taskId, "10 seconds")
            assert.strictEqual(result.status, "succeeded")
            assert.strictEqual(probe.starts.get(task.taskId), 1)
            assert.strictEqual((yield* h.resultsOf(task.taskId)).length, 1)
          })
        ),
      20_000
    )

    it.live(
      "shares one pool consumer between two replicas: each task runs once and both take tasks",
      () =>
        run(
          Effect.gen(function* () {
            const h = yield* makeHarness("share")
            const probe = makeProbe()
            yield* h.startReplica({ pool: "p", executorId: "replica-a", slots: 1, definitions: [probe.definitions.sleep] })
            yield* h.startReplica({ pool: "p", executorId: "replica-b", slots: 1, definitions: [probe.definitions.sleep] })
            const tasks = yield* Effect.forEach(
              Array.from({ length: 8 }, () => 150),
              (ms) => h.submit("p", { stageType: "probe.sleep", inputs: { ms } })
            )
            const all = yield* eventually(
              "a result for each of 8 tasks",
              Effect.map(h.received, (received) => received.length >= tasks.length && received),
              { timeout: "10 seconds" }
            )
            assert.strictEqual(all.length, tasks.length)
            assert.sameMembers(
              all.map((entry) => entry.result.taskId),
              tasks.map((task) => task.taskId)
            )
            for (const task of tasks) assert.strictEqual(probe.starts.get(task.taskId), 1, `starts of ${task.taskId}`)
            assert.sameMembers(Array.from(new Set(all.map((entry) => entry.result.executorId))), ["replica-a", "replica-b"])
          })
        ),
      20_000
    )

    it.live("terminates a malformed task message to the dead-letter subject and keeps running", () =>
      run(
        Effect.gen(function* () {
          const h = yield* makeHarness("poison")
          const deadLetters = yield* h.bus.subscribe(h.names.deadLetter("task.run"))
          const seen = yield* Ref.make<ReadonlyArray<{ readonly reason: string; readonly subject: string }>>([])
          yield* Effect.forkScoped(
            Stream.runForEach(deadLetters, (message) => Ref.update(seen, (all) => [...all, JSON.parse(decoder.decode(message.data))]))
          )
          yield* h.startReplica({ pool: "hello", definitions: helloStages })
          yield* h.bus.enqueue(h.names.taskRun("hello"), new TextEncoder().encode('{"version":1,"taskId":5}'), {
            headers: { [Codec.TypeHeader]: "TaskRun/1" }
          })
          const [dead] = yield* eventually(
            "a dead letter for the malformed task",
            Effect.map(Ref.get(seen), (all) => all.length > 0 && all)
          )
          assert.strictEqual(dead?.subject, h.names.taskRun("hello"))
          assert.include(dead?.reason ?? "", "terminated")
          assert.include(dead?.reason ?? "", "taskId")
          const task = yield* h.submit("hello", { stageType: "hello.reverse", inputs: { text: "abc" } })
          const { result } = yield* h.resultOf(task.taskId)
          assert.strictEqual(outputOf(result), "cba")
        })
      )
    )

    it.live(
      "redelivers the task of a replica that died mid-task to the surviving replica",
      () =>
        run(
          Effect.gen(function* () {
            const h = yield* makeHarness("crash")
            const surviving = makeProbe()
            // Same stage type on both replicas: on the dying one it never finishes by itself.
            const { dying, stop, task } = yield* heldByDyingReplica(h, surviving.definitions.sleep.metadata, "probe.sleep", { ms: 50 })
            yield* h.startReplica({
              pool: "p",
              executorId: "replica-b",
              slots: 1,
              ackWait: "1 second",
              definitions: [surviving.definitions.sleep]
            })
            yield* stop
            const { result } = yield* h.resultOf(task.taskId, "10 seconds")
            assert.strictEqual(result.status, "succeeded")
            assert.strictEqual(result.executorId, "replica-b")
            assert.strictEqual(surviving.starts.get(task.taskId), 1)
            assert.isTrue(dying.aborted.has(task.taskId))
            assert.isTrue((yield* h.resultsOf(task.taskId)).every((entry) => entry.result.executorId === "replica-b"))
          })
        ),
      20_000
    )

    it.live(
      "runs a task delivered again alone on its replica, then forgets its start",
      () =>
        run(
          Effect.gen(function* () {
            const h = yield* makeHarness("alone")
            const { stop, task: again } = yield* heldByDyingReplica(h, overlapProbe.definition.metadata, "probe.overlap", { ms: 1500 })
            yield* stop
            const probe = makeOverlapProbe()
            yield* h.startReplica({ pool: "p", executorId: "replica-b", slots: 4, ackWait: "1 second", definitions: [probe.definition] })
            yield* eventually(
              "replica-b started the redelivered task",
              Effect.sync(() => probe.overlapped.has(again.taskId)),
              {
                timeout: "10 seconds"
              }
            )
            const fresh = yield* Effect.forEach([1, 2, 3], () => h.submit("p", { stageType: "probe.overlap", inputs: { ms: 100 } }))
            for (const task of [again, ...fresh])
              assert.strictEqual((yield* h.resultOf(task.taskId, "15 seconds")).result.status, "succeeded")
            // The redelivered task ran with nothing beside it; the fresh ones may overlap each other.
            assert.deepStrictEqual(probe.overlapped.get(again.taskId), 0)
            const starts = yield* h.bus.kv(h.names.buckets.taskStarts)
            yield* eventually(
              "the start marker is removed once the task is settled",
              Effect.map(starts.get(String(h.seqOf(again.taskId))), (entry) => entry._tag === "None")
            )
          })
        ),
      30_000
    )

    it.live(
      "keeps the leases of every task queued behind a task running alone, so none of them is delivered again",
      () =>
        run(
          Effect.gen(function* () {
            const h = yield* makeHarness("queued")
            const probe = makeProbe()
            const { stop, task: again } = yield* heldByDyingReplica(h, probe.definitions.sleep.metadata, "probe.sleep", { ms: 2_500 })
            yield* stop
            yield* h.startReplica({
              pool: "p",
              executorId: "replica-b",
              slots: 4,
              ackWait: "1 second",
              definitions: [probe.definitions.sleep]
            })
            yield* eventually("replica-b runs the redelivered task alone", () => probe.starts.get(again.taskId) === 1, {
              timeout: "10 seconds"
            })
            // The first waits for the slots; the others are leased behind it, past their ack wait.
            const queued = yield* Effect.forEach([1, 2, 3], () => h.submit("p", { stageType: "probe.sleep", inputs: { ms: 50 } }))
            for (const task of [again, ...queued])
              assert.strictEqual((yield* h.resultOf(task.taskId, "15 seconds")).result.status, "succeeded")
            for (const task of [again, ...queued]) assert.strictEqual(probe.starts.get(task.taskId), 1, `starts of ${task.taskId}`)
          })
        ),
      30_000
    )

    it.live(
      "dead-letters as poison a task delivered again whose start marker says it crashed its replicas crashLimit times",
      () =>
        run(
          Effect.gen(function* () {
            const h = yield* makeHarness("crashlimit")
            const deadLetters = yield* h.bus.subscribe(h.names.deadLetter("task.run"))
            const seen = yield* Ref.make<ReadonlyArray<{ readonly reason: string; readonly seq: number }>>([])
            yield* Effect.forkScoped(
              Stream.runForEach(deadLetters, (message) => Ref.update(seen, (all) => [...all, JSON.parse(decoder.decode(message.data))]))
            )
            const { stop, task: poison } = yield* heldByDyingReplica(h, overlapProbe.definition.metadata, "probe.overlap", { ms: 10 })
            // What two replicas that crashed running it alone left behind.
            const starts = yield* h.bus.kv(h.names.buckets.taskStarts)
            yield* starts.put(
              String(h.seqOf(poison.taskId)),
              new TextEncoder().encode(JSON.stringify({ starts: 2, executorId: "gone", at: 0 }))
            )
            yield* stop
            const probe = makeOverlapProbe()
            yield* h.startReplica({
              pool: "p",
              executorId: "replica-b",
              slots: 2,
              ackWait: "1 second",
              crashLimit: 2,
              definitions: [probe.definition]
            })
            const [dead] = yield* eventually(
              "a dead letter for the poison task",
              Effect.map(Ref.get(seen), (all) => all.length > 0 && all),
              { timeout: "15 seconds" }
            )
            assert.strictEqual(dead?.seq, h.seqOf(poison.taskId))
            assert.include(dead?.reason ?? "", "poison")
            assert.isFalse(probe.overlapped.has(poison.taskId), "the poison task did not run again")
            const good = yield* h.submit("p", { stageType: "probe.overlap", inputs: { ms: 10 } })
            assert.strictEqual((yield* h.resultOf(good.taskId, "10 seconds")).result.status, "succeeded")
          })
        ),
      30_000
    )

    it.live("lets a running task finish within the grace period when shutting down", () =>
      run(
        Effect.gen(function* () {
          const h = yield* makeHarness("drain")
          const probe = makeProbe()
          const replica = yield* h.startReplica({ pool: "p", shutdownGrace: "5 seconds", definitions: [probe.definitions.sleep] })
          const task = yield* h.submit("p", { stageType: "probe.sleep", inputs: { ms: 400 } })
          yield* eventually(
            "the replica is running the task",
            Effect.map(replica.executor.inFlight, (n) => n === 1)
          )
          yield* replica.stop
          const { result } = yield* h.resultOf(task.taskId, "2 seconds")
          assert.strictEqual(result.status, "succeeded")
        })
      )
    )

    it.live("stores a repeated attempt's result once, deduplicated by taskId and attempt", () =>
      run(
        Effect.gen(function* () {
          const h = yield* makeHarness("dedupe")
          const probe = makeProbe()
          yield* h.startReplica({ pool: "p", slots: 1, definitions: [probe.definitions.sleep] })
          const task = yield* h.submit("p", { stageType: "probe.sleep", inputs: { ms: 1 } }, { msgId: "copy-1" })
          yield* h.submit("p", { ...task, stageType: task.stageType, inputs: task.inputs }, { msgId: "copy-2" })
          const later = yield* h.submit("p", { stageType: "probe.sleep", inputs: { ms: 1 } })
          // Tasks run in order on one slot: once the later one is done, both copies have run.
          yield* h.resultOf(later.taskId)
          assert.strictEqual(probe.starts.get(task.taskId), 2)
          assert.strictEqual((yield* h.resultsOf(task.taskId)).length, 1)
        })
      )
    )

    it.live("continues the task's trace in its result, from the span that publishes it", () =>
      run(
        Effect.gen(function* () {
          const h = yield* makeHarness("trace")
          yield* h.startReplica({ pool: "hello", definitions: helloStages })
          const traceparent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
          const task = yield* h.submit("hello", { stageType: "hello.greet", inputs: { name: "Lin" } }, { headers: { traceparent } })
          const { headers } = yield* h.resultOf(task.taskId)
          const [version, traceId, spanId, flags] = (headers["traceparent"] ?? "").split("-")
          assert.deepStrictEqual([version, traceId, flags], ["00", "4bf92f3577b34da6a3ce929d0e0e4736", "01"])
          assert.match(spanId ?? "", /^[0-9a-f]{16}$/)
          assert.notStrictEqual(spanId, "00f067aa0ba902b7")
          assert.strictEqual(headers[Codec.TypeHeader], "TaskResult/1")
        })
      )
    )

    it.live("registers its stage types, stops serving the ones the registry rejects and keeps the rest", () =>
      run(
        Effect.gen(function* () {
          const h = yield* makeHarness("register")
          const registrations = yield* h.answerRegistrations((type) =>
            type === "hello.shout"
              ? new StageRejection({ code: "conflict", path: "stages[1].type", message: "hello.shout belongs to plugin other" })
              : undefined
          )
          const replica = yield* h.startReplica({ pool: "hello", executorId: "replica-r", definitions: helloStages })
          assert.isTrue(yield* replica.executor.registered)
          const [registration] = yield* registrations
          assert.strictEqual(registration?.pool, "hello")
          assert.strictEqual(registration?.executorId, "replica-r")
          assert.strictEqual(registration?.runtime, "inline")
          assert.strictEqual(registration?.stages.length, helloStages.length)
          const served = yield* replica.executor.served
          assert.notInclude(served, "hello.shout")
          assert.include(served, "hello.greet")
          const shouted = yield* h.submit("hello", { stageType: "hello.shout", inputs: { text: "x" } })
          const greeted = yield* h.submit("hello", { stageType: "hello.greet", inputs: { name: "Nia" } })
          const refused = (yield* h.resultOf(shouted.taskId)).result
          assert.strictEqual(errorOf(refused)?.tag, "UnknownStageError")
          assert.include(errorOf(refused)?.message ?? "", "belongs to plugin other")
          assert.strictEqual((yield* h.resultOf(greeted.taskId)).result.status, "succeeded")
        })
      )
    )

    it.live("registers with the registry service, which refuses a stage with invalid metadata while the rest are served", () =>
      run(
        Effect.gen(function* () {
          const h = yield* makeHarness("registry")
          yield* h.startRegistry
          const bad = defineStage({
            type: "hello.bad",
            version: "1.0.0",
            description: "a stage whose state key is not an identifier",
            plugin: "hello",
            stateKey: "not-an-identifier",
            output: "set",
            count: "one",
            inputs: Schema.Unknown,
            outputs: Schema.Null,
            run: () => null
          })
          const replica = yield* h.startReplica({ pool: "hello", definitions: [...helloStages, bad] })
          assert.isTrue(yield* replica.executor.registered)
          assert.notInclude(yield* replica.executor.served, "hello.bad")
          const refused = yield* h.submit("hello", { stageType: "hello.bad", inputs: null })
          const { result } = yield* h.resultOf(refused.taskId)
          assert.strictEqual(errorOf(result)?.tag, "UnknownStageError")
          assert.include(errorOf(result)?.message ?? "", "invalid-metadata")
          assert.include(errorOf(result)?.message ?? "", "stateKey")
          const client = yield* h.registryClient
          const listed = yield* client.list()
          const types = listed.stages.map((stage) => stage.metadata.type)
          assert.includeMembers(
            types,
            helloStages.map((stage) => stage.metadata.type)
          )
          assert.notInclude(types, "hello.bad")
          assert.isTrue(listed.stages.every((stage) => stage.pool === "hello" && stage.online))
        })
      )
    )

    it.live(
      "serves tasks while the registry is not answering and registers once it does",
      () =>
        run(
          Effect.gen(function* () {
            const h = yield* makeHarness("noreg")
            const replica = yield* h.startReplica({ pool: "hello", definitions: helloStages })
            assert.isFalse(yield* replica.executor.registered)
            const task = yield* h.submit("hello", { stageType: "hello.greet", inputs: { name: "Ada" } })
            assert.strictEqual((yield* h.resultOf(task.taskId)).result.status, "succeeded")
            const registrations = yield* h.answerRegistrations()
            yield* eventually("the replica registered once the registry answered", replica.executor.registered, { timeout: "10 seconds" })
            assert.isAtLeast((yield* registrations).length, 1)
          })
        ),
      20_000
    )

    it.live("announces itself on stage.heartbeat with its pool, slots and running tasks", () =>
      run(
        Effect.gen(function* () {
          const h = yield* makeHarness("beat")
          const beats = yield* h.bus.subscribe(h.names.stageHeartbeat)
          const seen = yield* Ref.make<ReadonlyArray<Heartbeat>>([])
          const decodeBeat = Codec.decode(Heartbeat, WireType.Heartbeat)
          yield* Effect.forkScoped(
            Stream.runForEach(beats, (message) =>
              decodeBeat(message).pipe(
                Effect.flatMap((beat) => Ref.update(seen, (all) => [...all, beat])),
                Effect.ignore
              )
            )
          )
          const probe = makeProbe()
          yield* h.startReplica({ pool: "p", executorId: "replica-h", slots: 3, shutdownGrace: 0, definitions: [probe.definitions.hang] })
          yield* h.submit("p", { stageType: "probe.hang", inputs: null })
          const busy = yield* eventually(
            "a heartbeat reporting one running task",
            Effect.map(Ref.get(seen), (all) => all.find((beat) => beat.inFlight === 1) ?? false)
          )
          assert.strictEqual(busy.pool, "p")
          assert.strictEqual(busy.executorId, "replica-h")
          assert.strictEqual(busy.slots, 3)
        })
      )
    )
  })
}
