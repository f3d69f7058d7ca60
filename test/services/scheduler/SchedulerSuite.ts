/**
 * The scheduler's behaviour over a real bus: whole runs through the registry,
 * executor replicas and the scheduler, including retries, cancellation,
 * restarts, lost executors, duplicate results and malformed messages. Run
 * once per bus adapter.
 */
import { describe, expect, it } from "@effect/vitest"
import { Duration, Effect, Layer, Option, Stream } from "effect"
import type { Scope } from "effect"
import type { Bus } from "../../../services/bus/Bus.ts"
import { BusError } from "../../../services/bus/BusError.ts"
import * as Codec from "../../../schemas/Codec.ts"
import { WireType } from "../../../schemas/Catalog.ts"
import { StageRegistration } from "../../../schemas/Registry.ts"
import { LedgerUpdate, RunCancel, RunSubmit, RunSubmitReply } from "../../../schemas/Run.ts"
import { stages as helloStages } from "../../../plugins/hello/index.ts"
import { makeTaskResult, TaskResult } from "../../../schemas/Task.ts"
import { collect } from "../../support/collect.ts"
import { eventually } from "../../support/eventually.ts"
import { makeStack } from "./harness.ts"
import { stageOf } from "../../support/events.ts"

const hello = `
name: hello
inputs: { name: World }
stages:
  - { name: greet, type: hello.greet, inputs: { name: "{{ inputs.name }}" } }
  - { name: shout, type: hello.shout, depends_on: [greet], inputs: { text: "{{ state.greeting.greeting }}" } }
  - { name: reverse, type: hello.reverse, depends_on: [greet], inputs: { text: "{{ state.greeting.greeting }}" } }
  - { name: letters, type: hello.letters, depends_on: [greet], inputs: { text: "{{ state.greeting.greeting }}" } }
  - { name: words, type: hello.words, depends_on: [greet], inputs: { text: "{{ state.greeting.greeting }}" } }
  - name: summary
    type: hello.summary
    depends_on: [shout, reverse, letters, words]
    inputs: { shouted: "{{ state.shouted }}", reversed: "{{ state.reversed }}", letters: "{{ state.letters }}" }
`

const expectedState = {
  greeting: { greeting: "Hello, Ada!" },
  shouted: "HELLO, ADA!",
  reversed: "!adA ,olleH",
  letters: ["H", "e", "l", "l", "o", "A", "d", "a"],
  words: ["Hello", "Ada"],
  wordCount: 2,
  summary: { line: "HELLO, ADA! / !adA ,olleH / 8 letters", letterCount: 8 }
}

/**
 * The bus as `bus`, except that its first `failures` durable publishes on `subject` fail as a
 * stream that is not reachable would; `failed()` says how many did.
 */
const failingEnqueue = (subject: string, failures: number) => {
  let failed = 0
  return {
    failed: () => failed,
    bus: (bus: Bus["Service"]): Bus["Service"] => ({
      ...bus,
      enqueue: (to, data, options) => {
        if (to !== subject || failed >= failures) return bus.enqueue(to, data, options)
        failed++
        return Effect.fail(new BusError({ operation: "enqueue", subject: to, message: "the stream is not reachable (injected)" }))
      }
    })
  }
}

/** A view of the bus whose first `failures` publishes on subjects starting with `prefix` fail. */
const failingPublish = (prefix: string, failures: number) => {
  let failed = 0
  return {
    failed: () => failed,
    bus: (bus: Bus["Service"]): Bus["Service"] => ({
      ...bus,
      publish: (to, data, options) => {
        if (!to.startsWith(prefix) || failed >= failures) return bus.publish(to, data, options)
        failed++
        return Effect.fail(new BusError({ operation: "publish", subject: to, message: "the server is not reachable (injected)" }))
      }
    })
  }
}

const helloTypes = ["hello.greet", "hello.shout", "hello.reverse", "hello.letters", "hello.words", "hello.summary"]

export const schedulerSuite = (name: string, makeBus: () => Layer.Layer<Bus, unknown>) =>
  describe(`Scheduler over ${name}`, () => {
    const run = <A, E>(effect: Effect.Effect<A, E, Bus | Scope.Scope>) => effect.pipe(Effect.scoped, Effect.provide(Layer.orDie(makeBus())))

    it.live("runs a fan-out / fan-in pipeline with two replicas of one pool, and both take tasks", () =>
      run(
        Effect.gen(function* () {
          const stack = yield* makeStack("fan")
          yield* stack.registry
          const one = yield* stack.executor({ executorId: "one", slots: 1 })
          const two = yield* stack.executor({ executorId: "two", slots: 1 })
          yield* stack.scheduler()
          yield* stack.registered(helloTypes)
          const served = new Set<string>()
          for (let i = 0; i < 3; i++) {
            const reply = yield* stack.submit(hello, { name: "Ada" })
            expect(reply.issues).toEqual([])
            const { finished, events } = yield* stack.finished(reply.runId!)
            expect(finished.status).toBe("succeeded")
            expect(finished.state).toEqual(expectedState)
            const counts = Object.fromEntries(events.filter((e) => e.kind === "stage.finished").map((e) => [stageOf(e), e.count]))
            expect(counts).toEqual({ greet: 1, shout: 1, reverse: 1, letters: 8, words: 2, summary: 1 })
            for (const event of events) if ("executorId" in event && event.executorId !== undefined) served.add(event.executorId)
          }
          expect([...served].sort()).toEqual([one.service.executorId, two.service.executorId].sort())
        })
      )
    )

    it.live("carries one trace from the submit through every task, result and event of the run", () =>
      run(
        Effect.gen(function* () {
          const stack = yield* makeStack("trace")
          yield* stack.registry
          yield* stack.executor()
          yield* stack.scheduler()
          yield* stack.registered(["hello.greet", "hello.shout"])
          const traceId = "4bf92f3577b34da6a3ce929d0e0e4736"
          const seen = yield* collect(
            "trace headers",
            Stream.merge(
              yield* stack.bus.subscribe(stack.names.taskRunAll),
              Stream.merge(yield* stack.bus.subscribe(stack.names.taskResultAll), yield* stack.bus.subscribe(stack.names.runEventAll))
            )
          )
          const request = Codec.encode(
            RunSubmit,
            WireType.RunSubmit,
            new RunSubmit({
              version: 1,
              file: "trace.yaml",
              text: `
name: traced
stages:
  - { name: greet, type: hello.greet, inputs: { name: T } }
  - { name: shout, type: hello.shout, depends_on: [greet], inputs: { text: "{{ state.greeting.greeting }}" } }
`,
              inputs: {}
            })
          )
          const answer = yield* stack.bus.request(stack.names.runSubmit, request.data, {
            timeout: "5 seconds",
            headers: { ...request.headers, traceparent: `00-${traceId}-00f067aa0ba902b7-01` }
          })
          const reply = yield* Codec.decode(RunSubmitReply, WireType.RunSubmitReply)(answer)
          yield* stack.finished(reply.runId!)
          // 2 tasks + 2 results + 6 events (run.started, 2 × started/finished, run.finished)
          const messages = yield* seen.atLeast(10)
          const traceIds = new Set(messages.map((message) => message.headers.traceparent?.split("-")[1]))
          expect([...traceIds]).toEqual([traceId])
          expect(messages.filter((m) => m.subject.includes("task.run.")).length).toBe(2)
          expect(messages.filter((m) => m.subject.includes("task.result.")).length).toBe(2)
        })
      )
    )

    it.live("takes ledger fields over ledger.update and hands them to later stages", () =>
      run(
        Effect.gen(function* () {
          const stack = yield* makeStack("ledger")
          yield* stack.registry
          yield* stack.executor()
          const scheduler = yield* stack.scheduler()
          yield* stack.registered(["hello.sleep", "hello.greet"])
          const reply = yield* stack.submit(`
name: ledger
stages:
  - { name: nap, type: hello.sleep, inputs: { ms: 1500 } }
  - { name: greet, type: hello.greet, depends_on: [nap], inputs: { name: "{{ ledger.approver }}" } }
`)
          const runId = reply.runId!
          const update = Codec.encode(
            LedgerUpdate,
            WireType.LedgerUpdate,
            new LedgerUpdate({ version: 1, runId, fields: { approver: "Lin" }, source: "test" })
          )
          yield* stack.bus.publish(stack.names.ledgerUpdate(runId), update.data, { headers: update.headers })
          yield* eventually(
            "the ledger to hold the field",
            Effect.gen(function* () {
              const doc = yield* scheduler.service.get(runId)
              if (Option.isNone(doc) || doc.value.ledger.approver !== "Lin")
                return yield* Effect.fail(JSON.stringify(Option.getOrUndefined(doc)?.ledger))
            })
          )
          const { finished } = yield* stack.finished(runId)
          expect(finished.state).toEqual({ slept: { sleptMs: 1500 }, greeting: { greeting: "Hello, Lin!" } })
        })
      )
    )

    it.live("rejects an invalid pipeline over run.submit with the file, line and stage", () =>
      run(
        Effect.gen(function* () {
          const stack = yield* makeStack("inv")
          yield* stack.registry
          yield* stack.executor()
          yield* stack.scheduler()
          yield* stack.registered(["hello.greet"])
          const reply = yield* stack.submit("name: x\nstages:\n  - name: a\n    type: hello.gret\n", {}, "bad.yaml")
          expect(reply.runId).toBeUndefined()
          expect(reply.issues.map((issue) => [issue.file, issue.line, issue.stage, issue.path])).toEqual([
            ["bad.yaml", 4, "a", "stages[0].type"]
          ])
          expect(reply.issues[0]!.message).toContain(`did you mean "hello.greet"`)
        })
      )
    )

    it.live("retries a flaky stage with backoff until it succeeds", () =>
      run(
        Effect.gen(function* () {
          const stack = yield* makeStack("retry")
          yield* stack.registry
          yield* stack.executor()
          yield* stack.scheduler()
          yield* stack.registered(["hello.flaky"])
          const reply = yield* stack.submit(`
name: flaky
stages:
  - name: f
    type: hello.flaky
    retries: { max_attempts: 3, backoff_ms: 20 }
    inputs: { failTimes: 2 }
`)
          const { events, finished } = yield* stack.finished(reply.runId!)
          expect(finished.status).toBe("succeeded")
          expect(finished.state).toEqual({ flaky: { succeededOnAttempt: 3 } })
          expect(events.filter((e) => e.kind === "stage.retrying").map((e) => [e.attempt, e.retryInMs])).toEqual([
            [2, 20],
            [3, 40]
          ])
        })
      )
    )

    it.live("keeps a run going while its events cannot be published, then tells watchers where every stage is", () =>
      run(
        Effect.gen(function* () {
          const stack = yield* makeStack("unheard")
          yield* stack.registry
          yield* stack.executor()
          // Five tries for the first transition's events, five for the retry's (whose timer must be armed
          // anyway), two more for the next: every effect but those events goes ahead.
          const silenced = failingPublish(stack.names.runEvent(""), 12)
          yield* stack.scheduler({ reconcileInterval: Duration.millis(200) }, { bus: silenced.bus })
          yield* stack.registered(["hello.flaky", "hello.greet"])
          const reply = yield* stack.submit(`
name: unheard
stages:
  - { name: f, type: hello.flaky, retries: { max_attempts: 2, backoff_ms: 20 }, inputs: { failTimes: 1 } }
  - { name: g, type: hello.greet, depends_on: [f], inputs: { name: Later } }
`)
          const { events, finished } = yield* stack.finished(reply.runId!)
          expect(finished.status).toBe("succeeded")
          expect(finished.state).toEqual({ flaky: { succeededOnAttempt: 2 }, greeting: { greeting: "Hello, Later!" } })
          expect(silenced.failed()).toBe(12)
          // The watcher missed events, but what it last heard of each stage is where the stage is.
          const last = (stage: string) => events.filter((event) => stageOf(event) === stage).at(-1)?.kind
          expect([last("f"), last("g")]).toEqual(["stage.finished", "stage.finished"])
        })
      )
    )

    it.live("fails the run when a stage exhausts its retries, and its dependents never start", () =>
      run(
        Effect.gen(function* () {
          const stack = yield* makeStack("exhaust")
          yield* stack.registry
          yield* stack.executor()
          yield* stack.scheduler()
          yield* stack.registered(["hello.fail", "hello.greet"])
          const reply = yield* stack.submit(`
name: doomed
stages:
  - { name: boom, type: hello.fail, retries: { max_attempts: 2, backoff_ms: 10 }, inputs: { message: "disk on fire" } }
  - { name: after, type: hello.greet, depends_on: [boom], inputs: { name: x } }
`)
          const { events, finished } = yield* stack.finished(reply.runId!)
          expect(finished.status).toBe("failed")
          expect(finished.error?.message).toBe(`stage "boom" failed after 2 attempts: disk on fire`)
          expect(events.some((e) => e.kind === "stage.started" && stageOf(e) === "after")).toBe(false)
          expect(events.find((e) => stageOf(e) === "after")?.kind).toBe("stage.skipped")
        })
      )
    )

    it.live("sends a task again with backoff when sending it fails for a while, and the run goes on", () =>
      run(
        Effect.gen(function* () {
          const stack = yield* makeStack("resend")
          yield* stack.registry
          yield* stack.executor()
          const failing = failingEnqueue(stack.names.taskRun("hello"), 6)
          yield* stack.scheduler({}, { bus: failing.bus })
          yield* stack.registered(["hello.greet"])
          const reply = yield* stack.submit("name: resend\nstages:\n  - { name: g, type: hello.greet, inputs: { name: Again } }\n")
          const { finished } = yield* stack.finished(reply.runId!)
          expect(finished.status).toBe("succeeded")
          expect(finished.state).toEqual({ greeting: { greeting: "Hello, Again!" } })
          expect(failing.failed()).toBe(6)
        })
      )
    )

    it.live("fails the stage and the run, naming the pool and subject, when its task cannot be sent within the retry window", () =>
      run(
        Effect.gen(function* () {
          const stack = yield* makeStack("unsent")
          yield* stack.registry
          yield* stack.executor()
          const subject = stack.names.taskRun("hello")
          yield* stack.scheduler({ dispatchRetryWindow: Duration.millis(300) }, { bus: failingEnqueue(subject, Infinity).bus })
          yield* stack.registered(["hello.greet"])
          const reply = yield* stack.submit("name: unsent\nstages:\n  - { name: g, type: hello.greet, inputs: { name: Nobody } }\n")
          const { events, finished } = yield* stack.finished(reply.runId!)
          expect(finished.status).toBe("failed")
          expect(finished.error?.tag).toBe("TaskDispatchError")
          expect(finished.error?.message).toContain(
            `stage "g" failed after 1 attempt: could not send the task to pool "hello" on ${subject}`
          )
          expect(finished.error?.message).toContain("the stream is not reachable (injected)")
          expect(events.find((e) => e.kind === "stage.failed")?.error?.tag).toBe("TaskDispatchError")
        })
      )
    )

    /** Pool `hello` serves hello.sleep, pool `greeters` hello.greet; a run naps, then greets. */
    const napThenGreet = (stack: Effect.Success<ReturnType<typeof makeStack>>) =>
      Effect.gen(function* () {
        const byType = (type: string) => helloStages.filter((stage) => stage.metadata.type === type)
        yield* stack.executor({ pool: "hello", definitions: byType("hello.sleep") })
        const greeters = yield* stack.executor({ pool: "greeters", definitions: byType("hello.greet") })
        yield* stack.registered(["hello.sleep", "hello.greet"])
        return { greeters, startGreeters: stack.executor({ pool: "greeters", definitions: byType("hello.greet") }) }
      })

    const napGreet = (policy: string) => `
name: stranded
${policy}
stages:
  - { name: nap, type: hello.sleep, inputs: { ms: 1000 } }
  - { name: greet, type: hello.greet, depends_on: [nap], inputs: { name: Late } }
`

    it.live("reports a stage whose pool has no live executor as unschedulable, keeps waiting, and runs it once one starts", () =>
      run(
        Effect.gen(function* () {
          const stack = yield* makeStack("stranded")
          yield* stack.registry
          yield* stack.scheduler({ unschedulableAfter: Duration.millis(300) })
          const { greeters, startGreeters } = yield* napThenGreet(stack)
          const reply = yield* stack.submit(napGreet(""))
          const runId = reply.runId!
          // The only replica of pool greeters stops (and deregisters) while nap runs.
          yield* greeters.stop
          const reported = yield* eventually(
            "greet to be reported unschedulable",
            Effect.map(stack.eventsOf(runId), (events) => events.find((e) => e.kind === "stage.unschedulable") ?? false),
            { timeout: "10 seconds" }
          )
          expect({ stage: reported.stage, pool: reported.pool, message: reported.message }).toEqual({
            stage: "greet",
            pool: "greeters",
            message: "unschedulable: no live executor serves pool greeters"
          })
          // nap ran longer than the threshold on a live pool: not reported. The run waits.
          const before = yield* stack.eventsOf(runId)
          expect(before.filter((e) => e.kind === "stage.unschedulable").map((e) => stageOf(e))).toEqual(["greet"])
          expect(before.some((e) => e.kind === "run.finished")).toBe(false)
          yield* startGreeters
          const { events, finished } = yield* stack.finished(runId)
          expect(finished.status).toBe("succeeded")
          expect(finished.state).toEqual({ slept: { sleptMs: 1000 }, greeting: { greeting: "Hello, Late!" } })
          expect(events.filter((e) => e.kind === "stage.unschedulable")).toHaveLength(1)
        })
      )
    )

    it.live("fails the run, naming the pool, when its pipeline says on_unschedulable: fail", () =>
      run(
        Effect.gen(function* () {
          const stack = yield* makeStack("strandfail")
          yield* stack.registry
          yield* stack.scheduler({ unschedulableAfter: Duration.millis(300) })
          const { greeters } = yield* napThenGreet(stack)
          const reply = yield* stack.submit(napGreet("on_unschedulable: fail"))
          yield* greeters.stop
          const { events, finished } = yield* stack.finished(reply.runId!)
          expect(finished.status).toBe("failed")
          expect(finished.error).toEqual({
            tag: "StageUnschedulableError",
            message: `stage "greet" failed after 1 attempt: unschedulable: no live executor serves pool greeters`
          })
          expect(events.map((e) => e.kind).slice(-3)).toEqual(["stage.unschedulable", "stage.failed", "run.finished"])
        })
      )
    )

    it.live("cancels a running run over run.cancel", () =>
      run(
        Effect.gen(function* () {
          const stack = yield* makeStack("cancel")
          yield* stack.registry
          yield* stack.executor({ shutdownGrace: "0 millis" })
          const scheduler = yield* stack.scheduler()
          yield* stack.registered(["hello.sleep", "hello.greet"])
          const reply = yield* stack.submit(`
name: slow
stages:
  - { name: nap, type: hello.sleep, inputs: { ms: 10000 } }
  - { name: after, type: hello.greet, depends_on: [nap], inputs: { name: x } }
`)
          yield* eventually(
            "nap to start",
            Effect.gen(function* () {
              const events = yield* stack.eventsOf(reply.runId!)
              if (!events.some((e) => e.kind === "stage.started")) return yield* Effect.fail("not started")
            })
          )
          const answer = yield* scheduler.service.cancel(new RunCancel({ version: 1, runId: reply.runId!, reason: "no longer needed" }))
          expect(answer.cancelled).toBe(true)
          const { finished } = yield* stack.finished(reply.runId!)
          expect(finished.status).toBe("cancelled")
          expect(finished.error?.message).toBe("no longer needed")
        })
      )
    )

    it.live("resumes an unfinished run after the scheduler restarts, and completes it", () =>
      run(
        Effect.gen(function* () {
          const stack = yield* makeStack("restart")
          yield* stack.registry
          const executor = yield* stack.executor()
          const first = yield* stack.scheduler()
          yield* stack.registered(["hello.sleep", "hello.greet"])
          const reply = yield* stack.submit(`
name: restart
stages:
  - { name: nap, type: hello.sleep, inputs: { ms: 600 } }
  - { name: after, type: hello.greet, depends_on: [nap], inputs: { name: Restart } }
`)
          yield* eventually(
            "nap to start",
            Effect.gen(function* () {
              const events = yield* stack.eventsOf(reply.runId!)
              if (!events.some((e) => e.kind === "stage.started")) return yield* Effect.fail("not started")
            })
          )
          yield* first.stop
          // Let the result of `nap` land in the results stream while no scheduler runs.
          yield* eventually(
            "nap to finish on the executor",
            Effect.gen(function* () {
              const inFlight = yield* executor.service.inFlight
              if (inFlight > 0) return yield* Effect.fail(`${inFlight} in flight`)
            })
          )
          yield* stack.scheduler()
          const { finished } = yield* stack.finished(reply.runId!)
          expect(finished.status).toBe("succeeded")
          expect(finished.state).toEqual({ slept: { sleptMs: 600 }, greeting: { greeting: "Hello, Restart!" } })
        })
      )
    )

    it.live("redelivers a task whose executor died to another replica, and applies its result once", () =>
      run(
        Effect.gen(function* () {
          const stack = yield* makeStack("kill")
          yield* stack.registry
          const doomed = yield* stack.executor({ executorId: "doomed", ackWait: "1 second", shutdownGrace: "0 millis" })
          yield* stack.scheduler()
          yield* stack.registered(["hello.sleep", "hello.letters"])
          const reply = yield* stack.submit(`
name: kill
stages:
  - { name: nap, type: hello.sleep, inputs: { ms: 500 } }
  - { name: letters, type: hello.letters, depends_on: [nap], inputs: { text: abc } }
`)
          yield* eventually(
            "doomed replica to take the task",
            Effect.gen(function* () {
              const inFlight = yield* doomed.service.inFlight
              if (inFlight === 0) return yield* Effect.fail("no task in flight")
            })
          )
          yield* doomed.stop
          yield* stack.executor({ executorId: "survivor", ackWait: "1 second" })
          const { events, finished } = yield* stack.finished(reply.runId!)
          expect(finished.status).toBe("succeeded")
          expect(finished.state).toEqual({ slept: { sleptMs: 500 }, letters: ["a", "b", "c"] })
          expect(events.filter((e) => e.kind === "stage.finished" && stageOf(e) === "nap")).toHaveLength(1)
        })
      )
    )

    it.live("fails a stage whose task exhausted its deliveries, naming the dead letter", () =>
      run(
        Effect.gen(function* () {
          const stack = yield* makeStack("undeliverable")
          yield* stack.registry
          const doomed = yield* stack.executor({ executorId: "doomed", ackWait: "500 millis", maxDeliver: 1, shutdownGrace: "0 millis" })
          yield* stack.scheduler()
          yield* stack.registered(["hello.sleep"])
          const reply = yield* stack.submit("name: lost\nstages:\n  - { name: nap, type: hello.sleep, inputs: { ms: 2000 } }\n")
          yield* eventually(
            "doomed replica to take the task",
            Effect.gen(function* () {
              if ((yield* doomed.service.inFlight) === 0) return yield* Effect.fail("no task in flight")
            })
          )
          yield* doomed.stop
          yield* stack.executor({ executorId: "next", ackWait: "500 millis", maxDeliver: 1 })
          const { finished } = yield* stack.finished(reply.runId!)
          expect(finished.status).toBe("failed")
          expect(finished.error?.tag).toBe("TaskUndeliverableError")
          expect(finished.error?.message).toContain("dead-lettered after 1 deliveries")
        })
      )
    )

    it.live("applies a result delivered twice exactly once", () =>
      run(
        Effect.gen(function* () {
          const stack = yield* makeStack("dup")
          yield* stack.registry
          yield* stack.scheduler()
          // The test plays the executor: it registers the hello types for pool hello (no replica serves
          // them yet) and answers the task twice with distinct message ids.
          const registration = Codec.encode(
            StageRegistration,
            WireType.StageRegistration,
            new StageRegistration({
              version: 1,
              pool: "hello",
              executorId: "test",
              runtime: "inline",
              stages: helloStages.map((stage) => stage.metadata)
            })
          )
          yield* stack.bus.request(stack.names.stageRegister, registration.data, { timeout: "5 seconds", headers: registration.headers })
          yield* stack.registered(["hello.letters", "hello.sleep"])
          const reply = yield* stack.submit(`
name: dup
stages:
  - { name: letters, type: hello.letters, inputs: { text: xy } }
  - { name: nap, type: hello.sleep, depends_on: [letters], inputs: { ms: 1 } }
`)
          const runId = reply.runId!
          const result = makeTaskResult({
            version: 1,
            taskId: `${runId}.letters`,
            runId,
            stage: "letters",
            stageType: "hello.letters",
            attempt: 1,
            executorId: "test",
            pool: "hello",
            status: "succeeded",
            output: ["x", "y"],
            durationMs: 1
          })
          const encoded = Codec.encode(TaskResult, WireType.TaskResult, result)
          yield* stack.bus.enqueue(stack.names.taskResult(runId), encoded.data, { headers: encoded.headers, msgId: "first" })
          yield* stack.bus.enqueue(stack.names.taskResult(runId), encoded.data, { headers: encoded.headers, msgId: "second" })
          yield* stack.executor()
          const { events, finished } = yield* stack.finished(runId)
          expect(finished.state).toEqual({ letters: ["x", "y"], slept: { sleptMs: 1 } })
          expect(events.filter((e) => e.kind === "stage.finished" && stageOf(e) === "letters")).toHaveLength(1)
        })
      )
    )

    it.live("rejects malformed messages on run.submit, run.cancel, ledger.update and task.result and keeps serving", () =>
      run(
        Effect.gen(function* () {
          const stack = yield* makeStack("malformed")
          yield* stack.registry
          yield* stack.executor()
          yield* stack.scheduler()
          yield* stack.registered(["hello.greet"])
          const garbage = new TextEncoder().encode("{not json")
          const submitReply = yield* stack.bus.request(stack.names.runSubmit, garbage, { timeout: "5 seconds" })
          expect(new TextDecoder().decode(submitReply.data)).toContain("expected a JSON RunSubmit/1 payload")
          const badShape = yield* stack.bus.request(stack.names.runSubmit, new TextEncoder().encode(`{"version":1,"file":"x"}`), {
            timeout: "5 seconds"
          })
          expect(new TextDecoder().decode(badShape.data)).toContain("text")
          const cancelReply = yield* stack.bus.request(stack.names.runCancel, new TextEncoder().encode(`{"version":1}`), {
            timeout: "5 seconds"
          })
          expect(new TextDecoder().decode(cancelReply.data)).toContain("runId")
          yield* stack.bus.publish(stack.names.ledgerUpdate("r"), garbage)
          const dead = yield* stack.bus.subscribe(stack.names.deadLetter("task.result"))
          const deadLetters = yield* collect("dead letters", dead)
          yield* stack.bus.enqueue(stack.names.taskResult("r"), garbage)
          const [letter] = yield* deadLetters.atLeast(1)
          expect(new TextDecoder().decode(letter!.data)).toContain("expected a JSON TaskResult/1 payload")
          const reply = yield* stack.submit("name: ok\nstages:\n  - { name: g, type: hello.greet, inputs: { name: still } }\n")
          const { finished } = yield* stack.finished(reply.runId!)
          expect(finished.state).toEqual({ greeting: { greeting: "Hello, still!" } })
        })
      )
    )
  })
