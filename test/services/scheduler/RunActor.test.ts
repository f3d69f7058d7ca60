import { describe, expect, it } from "@effect/vitest"
import { Schema } from "effect"
import { Pipeline } from "../../../schemas/Pipeline.ts"
import { RegisteredStage } from "../../../schemas/Registry.ts"
import { RunRecord } from "../../../schemas/RunRecord.ts"
import { StageMetadata } from "../../../schemas/StageMetadata.ts"
import { makeTaskResult, TaskFailure, TaskWaiting } from "../../../schemas/Task.ts"
import * as RunActor from "../../../services/scheduler/RunActor.ts"
import type { Transition } from "../../../services/scheduler/RunActor.ts"
import { stage } from "./fixtures.ts"
import { stageOf } from "../../support/events.ts"

const types = {
  greet: stage({ type: "hello.greet", stateKey: "greeting", output: "set", count: "one" }),
  letters: stage({ type: "hello.letters", stateKey: "letters", output: "append", count: "length" }),
  words: stage({ type: "hello.words", stateKey: ["words", "wordCount"], output: "unpack", count: "length(words) + field(wordCount)" }),
  meta: stage({ type: "hello.meta", stateKey: "meta", output: "merge", count: "none" }),
  gate: stage({ type: "hello.noop", stateKey: null, output: "none", count: "none" })
}

const makeRun = (
  stages: ReadonlyArray<{ name: string; type: keyof typeof types; depends_on?: Array<string>; retries?: object; inputs?: object }>,
  fields: object = {}
) => {
  const pipeline = Schema.decodeUnknownSync(Pipeline)({
    name: "t",
    ...fields,
    inputs: { name: "ada" },
    stages: stages.map(({ type, ...rest }) => ({ ...rest, type: types[type].metadata.type }))
  })
  return live(
    RunActor.newRun({
      runId: "r1",
      file: "t.yaml",
      pipeline,
      stages: new Map(stages.map((s) => [s.name, types[s.type]])),
      inputs: { name: "grace" },
      now: 0
    })
  )
}

/** A run as the scheduler's run table holds it: each transition's record takes the place of the one it was applied to. */
interface Live {
  record: RunRecord
}

const live = (record: RunRecord): Live => ({ record })

/** Applies a transition to the live run. */
const step = <A extends ReadonlyArray<unknown>>(
  run: Live,
  transition: (record: RunRecord, ...args: A) => Transition | undefined,
  ...args: A
): Transition | undefined => {
  const applied = transition(run.record, ...args)
  if (applied !== undefined) run.record = applied.record
  return applied
}

/** Starts the live run (a start always makes a transition). */
const start = (run: Live, now: number): Transition => {
  const started = RunActor.start(run.record, now)
  run.record = started.record
  return started
}

const report = (
  doc: Live,
  name: string,
  outcome:
    { status: "succeeded"; output: Schema.Json } | { status: "failed"; error: TaskFailure } | { status: "waiting"; waiting: TaskWaiting },
  now: number
) => step(doc, RunActor.onResult, makeTaskResult({ ...resultOf(doc, name), ...outcome }), now)

const resultOf = (doc: Live, name: string) => ({
  version: 1 as const,
  taskId: doc.record.stages[name]!.taskId,
  runId: doc.record.runId,
  stage: name,
  stageType: doc.record.stages[name]!.type,
  attempt: doc.record.stages[name]!.attempt,
  executorId: "e1",
  pool: "test",
  durationMs: 5
})

const succeed = (doc: Live, name: string, output: Schema.Json, now = 10) => report(doc, name, { status: "succeeded", output }, now)

const failWith = (doc: Live, name: string, retryable: boolean, now = 10) =>
  report(doc, name, { status: "failed", error: new TaskFailure({ tag: "Boom", message: "boom", retryable }) }, now)

const kinds = (transition: Transition) => transition.events.map((event) => `${event.kind}${stageOf(event) ? `:${stageOf(event)}` : ""}`)

describe("RunActor", () => {
  it("dispatches root stages with templated inputs and fans in once all dependencies succeed", () => {
    const run = makeRun([
      { name: "a", type: "greet", inputs: { who: "{{ inputs.name }}", note: "hi {{ inputs.name }}" } },
      { name: "b", type: "letters", depends_on: ["a"], inputs: { text: "{{ state.greeting }}" } },
      { name: "c", type: "meta", depends_on: ["a"] },
      { name: "d", type: "gate", depends_on: ["b", "c"] }
    ])
    const started = start(run, 0)
    expect(started.dispatch.map((task) => [task.stage, task.inputs])).toEqual([["a", { who: "grace", note: "hi grace" }]])
    const afterA = succeed(run, "a", "hello grace")!
    expect(afterA.dispatch.map((task) => [task.stage, task.inputs])).toEqual([
      ["b", { text: "hello grace" }],
      ["c", {}]
    ])
    expect(succeed(run, "b", ["h", "i"])!.dispatch).toEqual([])
    expect(succeed(run, "c", { x: 1 })!.dispatch.map((task) => task.stage)).toEqual(["d"])
    const done = succeed(run, "d", null)!
    expect(run.record.status).toBe("succeeded")
    expect(kinds(done)).toEqual(["stage.finished:d", "run.finished"])
    expect(run.record.state).toEqual({ greeting: "hello grace", letters: ["h", "i"], meta: { x: 1 } })
  })

  it("applies outputs by metadata and counts them into stage.finished events", () => {
    const run = makeRun([
      { name: "l", type: "letters" },
      { name: "w", type: "words" },
      { name: "m", type: "meta" }
    ])
    start(run, 0)
    const letters = succeed(run, "l", ["a", "b", "c"])!
    expect(letters.events.find((e) => e.kind === "stage.finished")?.count).toBe(3)
    const words = succeed(run, "w", { words: ["x", "y"], wordCount: 2, ignored: true })!
    expect(words.events.find((e) => e.kind === "stage.finished")?.count).toBe(4)
    expect(run.record.state).toEqual({ letters: ["a", "b", "c"], words: ["x", "y"], wordCount: 2 })
    succeed(run, "m", [1, 2])
    expect(run.record.status).toBe("failed")
    expect(run.record.error?.message).toContain("output mode merge expects an object, found an array")
  })

  it("ignores a duplicate or stale result so each result is applied once", () => {
    const run = makeRun([
      { name: "l", type: "letters" },
      { name: "g", type: "gate" }
    ])
    start(run, 0)
    expect(succeed(run, "l", ["a"])).toBeDefined()
    expect(run.record.state).toEqual({ letters: ["a"] })
    expect(succeed(run, "l", ["a"])).toBeUndefined()
    expect(run.record.state).toEqual({ letters: ["a"] })
  })

  it("retries with exponential backoff and fails the run after the last attempt, skipping dependents", () => {
    const run = makeRun([
      { name: "a", type: "greet", retries: { max_attempts: 3, backoff_ms: 100, factor: 2 } },
      { name: "b", type: "gate", depends_on: ["a"] }
    ])
    start(run, 0)
    const first = failWith(run, "a", true, 10)!
    expect(first.timers).toEqual([{ stage: "a", at: 110 }])
    expect(kinds(first)).toEqual(["stage.failed:a", "stage.retrying:a"])
    step(run, RunActor.onTimer, "a", 110)
    expect(run.record.stages.a!.attempt).toBe(2)
    const second = failWith(run, "a", true, 120)!
    expect(second.timers).toEqual([{ stage: "a", at: 320 }])
    step(run, RunActor.onTimer, "a", 320)
    const last = failWith(run, "a", true, 330)!
    expect(run.record.status).toBe("failed")
    expect(run.record.stages.b!.status).toBe("skipped")
    expect(kinds(last)).toEqual(["stage.failed:a", "stage.skipped:b", "run.finished"])
    expect(run.record.error?.message).toBe(`stage "a" failed after 3 attempts: boom`)
  })

  it("does not retry an error that says it is not retryable", () => {
    const run = makeRun([{ name: "a", type: "greet", retries: { max_attempts: 5 } }])
    start(run, 0)
    const failed = failWith(run, "a", false)!
    expect(run.record.status).toBe("failed")
    expect(failed.timers).toEqual([])
  })

  it("cancels a running run once and skips what had not finished", () => {
    const run = makeRun([
      { name: "a", type: "greet" },
      { name: "b", type: "gate", depends_on: ["a"] }
    ])
    start(run, 0)
    expect(step(run, RunActor.cancel, "user asked", 5)).toBeDefined()
    expect(run.record.status).toBe("cancelled")
    expect(run.record.stages.b!.status).toBe("skipped")
    expect(step(run, RunActor.cancel, "again", 6)).toBeUndefined()
    expect(succeed(run, "a", "late")).toBeUndefined()
  })

  it("reports a dispatched stage as unschedulable and keeps the run waiting by default", () => {
    const run = makeRun([{ name: "a", type: "greet" }])
    start(run, 0)
    const task = { stage: "a", taskId: run.record.stages.a!.taskId, attempt: 1 }
    const reported = step(run, RunActor.unschedulable, task, 30_000)!
    expect(
      reported.events.map((e) => [e.kind, stageOf(e), "pool" in e ? e.pool : undefined, "message" in e ? e.message : undefined])
    ).toEqual([["stage.unschedulable", "a", "test", "unschedulable: no live executor serves pool test"]])
    expect(run.record.status).toBe("running")
    expect(run.record.stages.a!.status).toBe("dispatched")
    expect(succeed(run, "a", "late but fine")).toBeDefined()
    expect(run.record.status).toBe("succeeded")
    expect(step(run, RunActor.unschedulable, task, 40_000)).toBeUndefined()
  })

  it("fails an unschedulable stage and its run when the pipeline says on_unschedulable: fail", () => {
    const run = makeRun([{ name: "a", type: "greet" }], { on_unschedulable: "fail" })
    start(run, 0)
    expect(step(run, RunActor.unschedulable, { stage: "a", taskId: run.record.stages.a!.taskId, attempt: 2 }, 30_000)).toBeUndefined()
    const failed = step(run, RunActor.unschedulable, { stage: "a", taskId: run.record.stages.a!.taskId, attempt: 1 }, 30_000)!
    expect(failed.events.map((e) => e.kind)).toEqual(["stage.unschedulable", "stage.failed", "run.finished"])
    expect(run.record.status).toBe("failed")
    expect(run.record.error).toEqual({
      tag: "StageUnschedulableError",
      message: `stage "a" failed after 1 attempt: unschedulable: no live executor serves pool test`,
      retryable: false
    })
  })

  it("re-sends in-flight tasks and re-arms retry timers when a run resumes", () => {
    const run = makeRun([
      { name: "a", type: "greet", retries: { max_attempts: 2, backoff_ms: 50 } },
      { name: "b", type: "letters" }
    ])
    start(run, 0)
    failWith(run, "a", true, 10)
    // A resumed scheduler reads the record back from storage: a fresh copy.
    const stored = Schema.decodeUnknownSync(RunRecord)(JSON.parse(JSON.stringify(run.record)))
    const resumed = RunActor.resume(stored, 20)
    expect(resumed.dispatch.map((task) => [task.stage, task.attempt])).toEqual([["b", 1]])
    expect(resumed.timers).toEqual([{ stage: "a", at: 60 }])
  })

  it("reconciles a run as a resume does, with one event per started stage saying where it is", () => {
    const run = makeRun([
      { name: "a", type: "greet", retries: { max_attempts: 2, backoff_ms: 50 } },
      { name: "b", type: "letters" },
      { name: "c", type: "greet", depends_on: ["b"] }
    ])
    start(run, 0)
    failWith(run, "a", true, 10)
    const seq = run.record.seq
    const reconciled = step(run, RunActor.reconcile, 20)!
    expect(reconciled.dispatch.map((task) => [task.stage, task.attempt])).toEqual([["b", 1]])
    expect(reconciled.timers).toEqual([{ stage: "a", at: 60 }])
    expect(reconciled.events.map((event) => [event.kind, stageOf(event), event.seq])).toEqual([
      ["stage.retrying", "a", seq + 1],
      ["stage.started", "b", seq + 2]
    ])
    expect(run.record.seq).toBe(seq + 2)
  })

  it("reconciles nothing of a finished run, whose run.finished it can send again as it was", () => {
    const run = makeRun([{ name: "a", type: "greet" }])
    start(run, 0)
    const finishing = succeed(run, "a", { hi: 1 }, 5)!
    expect(RunActor.reconcile(run.record, 10)).toBeUndefined()
    expect(RunActor.finishedEvent(run.record)).toEqual(finishing.events.find((event) => event.kind === "run.finished"))
  })

  it("dispatches every branch of a wide fan-out once and joins after the last one", () => {
    const width = 2000
    const stages = [
      { name: "root", type: "greet" as const },
      ...Array.from({ length: width }, (_, i) => ({ name: `s${i}`, type: "letters" as const, depends_on: ["root"] })),
      { name: "join", type: "gate" as const, depends_on: Array.from({ length: width }, (_, i) => `s${i}`) }
    ]
    const run = makeRun(stages)
    start(run, 0)
    expect(succeed(run, "root", "hi")!.dispatch).toHaveLength(width)
    for (let i = 0; i < width - 1; i++) expect(succeed(run, `s${i}`, ["x"])!.dispatch).toEqual([])
    expect(succeed(run, `s${width - 1}`, ["x"])!.dispatch.map((task) => task.stage)).toEqual(["join"])
    succeed(run, "join", null)
    expect(run.record.status).toBe("succeeded")
    expect((run.record.state.letters as Array<string>).length).toBe(width)
  })

  describe("a stage waiting for the ledger", () => {
    const waitingFor = (unmet: Array<string>, timeoutMs = 1000) =>
      new TaskWaiting({
        message: "waits",
        unmet,
        timeoutMs,
        timeoutError: new TaskFailure({ tag: "GateConditionError", message: `unmet: ${unmet.join("; ")}`, retryable: false })
      })
    const wait = (doc: Live, name: string, unmet: Array<string>, now: number) =>
      report(doc, name, { status: "waiting", waiting: waitingFor(unmet) }, now)
    const gated = () => {
      const run = makeRun([
        { name: "g", type: "gate" },
        { name: "after", type: "greet", depends_on: ["g"] }
      ])
      start(run, 0)
      return run
    }

    it("waits showing what is unmet, runs again on a ledger update with the new ledger, and passes", () => {
      const run = gated()
      const waiting = wait(run, "g", ["ready equals true (missing)"], 10)!
      expect(kinds(waiting)).toEqual(["stage.waiting:g"])
      const first = waiting.events[0]!
      expect(first.kind === "stage.waiting" ? first.waiting : undefined).toEqual({
        message: "waits",
        unmet: ["ready equals true (missing)"]
      })
      expect(waiting.timers).toEqual([{ stage: "g", at: 1010 }])
      expect(run.record.stages.g!.status).toBe("waiting")
      const woken = step(run, RunActor.updateLedger, { ready: true }, 20)!
      expect(woken.dispatch.map((task) => [task.taskId, task.ledger])).toEqual([["r1.g~1", { ready: true }]])
      expect(succeed(run, "g", { passed: true }, 30)).toBeDefined()
      expect(run.record.stages.g!.status).toBe("succeeded")
      expect(run.record.stages.after!.status).toBe("dispatched")
    })

    it("fails with the stage's timeout error naming what is still unmet when its time is up", () => {
      const run = gated()
      wait(run, "g", ["ready equals true (missing)"], 10)
      expect(step(run, RunActor.onTimer, "g", 500)).toBeUndefined()
      const expired = step(run, RunActor.onTimer, "g", 1010)!
      expect(kinds(expired)).toEqual(["stage.failed:g", "stage.skipped:after", "run.finished"])
      expect(run.record.status).toBe("failed")
      expect(run.record.error).toEqual({
        tag: "GateConditionError",
        message: `stage "g" failed after 1 attempt: unmet: ready equals true (missing)`,
        retryable: false
      })
      // A ledger update after the timeout changes nothing: one terminal outcome.
      expect(step(run, RunActor.updateLedger, { ready: true }, 1020)).toBeUndefined()
      expect(run.record.ledger).toEqual({})
      expect(run.record.status).toBe("failed")
    })

    it("keeps its deadline across answers, and ignores answers of superseded tasks", () => {
      const run = gated()
      wait(run, "g", ["a"], 10)
      step(run, RunActor.updateLedger, { x: 1 }, 20)
      const staleTask = { ...run.record.stages.g!, taskId: "r1.g" }
      expect(
        step(
          run,
          RunActor.onResult,
          makeTaskResult({ ...resultOf(run, "g"), taskId: staleTask.taskId, status: "succeeded", output: { passed: true } }),
          25
        )
      ).toBeUndefined()
      const again = wait(run, "g", ["a"], 30)!
      expect(again.timers).toEqual([])
      expect(again.events).toEqual([])
      expect(run.record.stages.g!.waitUntil).toBe(1010)
    })

    it("runs again at once when the ledger changed while it was deciding", () => {
      const run = gated()
      step(run, RunActor.updateLedger, { ready: false }, 5)
      const rerun = wait(run, "g", ["ready equals true (found false)"], 10)!
      expect(rerun.dispatch.map((task) => task.taskId)).toEqual(["r1.g~1"])
      expect(run.record.stages.g!.status).toBe("dispatched")
    })

    it("answers every duplicate ledger update with a new evaluation, and exactly one outcome", () => {
      const run = gated()
      wait(run, "g", ["ready"], 10)
      const first = step(run, RunActor.updateLedger, { ready: true }, 20)!
      const second = step(run, RunActor.updateLedger, { ready: true }, 21)!
      expect(first.dispatch.length).toBe(1)
      expect(second.dispatch).toEqual([])
      expect(succeed(run, "g", { passed: true }, 30)).toBeDefined()
      expect(succeed(run, "g", { passed: true }, 31)).toBeUndefined()
      expect(step(run, RunActor.onTimer, "g", 2000)).toBeUndefined()
      expect(run.record.stages.g!.status).toBe("succeeded")
    })

    it("is re-armed by a resumed scheduler", () => {
      const run = gated()
      wait(run, "g", ["ready"], 10)
      const resumed = step(run, RunActor.resume, 100)!
      expect(resumed.timers).toEqual([{ stage: "g", at: 1010 }])
      expect(resumed.dispatch).toEqual([])
    })

    it("is skipped when the run is cancelled", () => {
      const run = gated()
      wait(run, "g", ["ready"], 10)
      step(run, RunActor.cancel, "stop", 20)
      expect(run.record.stages.g!.status).toBe("skipped")
    })
  })

  it("passes a stage's config with its inputs (an input of the same name wins) and counts by its metadata override", () => {
    const pipeline = Schema.decodeUnknownSync(Pipeline)({
      name: "t",
      stages: [
        {
          name: "a",
          type: "hello.letters",
          config: { size: 3, mode: "fast" },
          inputs: { mode: "{{ inputs.mode }}" },
          metadata: { stateKey: "chars", count: "none" }
        },
        { name: "b", type: "hello.letters", depends_on: ["a"] }
      ]
    })
    const overridden = new RegisteredStage({
      ...types.letters,
      metadata: new StageMetadata({ ...types.letters.metadata, stateKey: "chars", count: "none" })
    })
    const run = live(
      RunActor.newRun({
        runId: "r1",
        file: "t.yaml",
        pipeline,
        stages: new Map([
          ["a", overridden],
          ["b", types.letters]
        ]),
        inputs: { mode: "slow" },
        now: 0
      })
    )
    const started = start(run, 0)
    expect(started.dispatch.map((task) => task.inputs)).toEqual([{ size: 3, mode: "slow" }])
    const finishedA = succeed(run, "a", ["x", "y"])!
    expect(finishedA.events.find((event) => event.kind === "stage.finished")?.count).toBe(0)
    succeed(run, "b", ["z"])
    expect(run.record.state).toEqual({ chars: ["x", "y"], letters: ["z"] })
    expect(run.record.types["hello.letters"]?.stateKey).toBe("letters")
  })
})
