import { describe, expect, it } from "@effect/vitest"
import { Schema } from "effect"
import { Pipeline } from "../../../schemas/Pipeline.ts"
import { RegisteredStage } from "../../../schemas/Registry.ts"
import * as RunActor from "../../../services/scheduler/RunActor.ts"
import type { RunDoc, Transition } from "../../../services/scheduler/RunActor.ts"
import { stage } from "./fixtures.ts"

const types = {
  greet: stage({ type: "hello.greet", stateKey: "greeting", output: "set", count: "one" }),
  letters: stage({ type: "hello.letters", stateKey: "letters", output: "append", count: "length" }),
  words: stage({ type: "hello.words", stateKey: ["words", "wordCount"], output: "unpack", count: "length(words) + field(wordCount)" }),
  meta: stage({ type: "hello.meta", stateKey: "meta", output: "merge", count: "none" }),
  gate: stage({ type: "hello.noop", stateKey: null, output: "none", count: "none" })
}

const makeRun = (stages: ReadonlyArray<{ name: string; type: keyof typeof types; depends_on?: Array<string>; retries?: object; inputs?: object }>) => {
  const pipeline = Schema.decodeUnknownSync(Pipeline)({
    name: "t",
    inputs: { name: "ada" },
    stages: stages.map(({ type, ...rest }) => ({ ...rest, type: types[type].metadata.type }))
  })
  return RunActor.newRun({
    runId: "r1",
    file: "t.yaml",
    pipeline: Schema.encodeSync(Pipeline)(pipeline),
    stages: new Map(stages.map((s) => [s.name, Schema.encodeSync(RegisteredStage)(types[s.type])])),
    inputs: { name: "grace" },
    now: 0
  })
}

const succeed = (doc: RunDoc, name: string, output: unknown, now = 10) =>
  RunActor.onResult(doc, {
    version: 1,
    taskId: doc.stages[name]!.taskId,
    runId: doc.runId,
    stage: name,
    stageType: doc.stages[name]!.metadata.type,
    attempt: doc.stages[name]!.attempt,
    executorId: "e1",
    pool: "test",
    status: "succeeded",
    output: output as never,
    durationMs: 5
  }, now)

const failWith = (doc: RunDoc, name: string, retryable: boolean, now = 10) =>
  RunActor.onResult(doc, {
    version: 1,
    taskId: doc.stages[name]!.taskId,
    runId: doc.runId,
    stage: name,
    stageType: doc.stages[name]!.metadata.type,
    attempt: doc.stages[name]!.attempt,
    executorId: "e1",
    pool: "test",
    status: "failed",
    error: { tag: "Boom", message: "boom", retryable },
    durationMs: 5
  }, now)

const kinds = (transition: Transition) => transition.events.map((event) => `${event.kind}${event.stage ? `:${event.stage}` : ""}`)

describe("RunActor", () => {
  it("dispatches root stages with templated inputs and fans in once all dependencies succeed", () => {
    const run = makeRun([
      { name: "a", type: "greet", inputs: { who: "{{ inputs.name }}", note: "hi {{ inputs.name }}" } },
      { name: "b", type: "letters", depends_on: ["a"], inputs: { text: "{{ state.greeting }}" } },
      { name: "c", type: "meta", depends_on: ["a"] },
      { name: "d", type: "gate", depends_on: ["b", "c"] }
    ])
    const started = RunActor.start(run, 0)
    expect(started.dispatch.map((task) => [task.stage, task.inputs])).toEqual([["a", { who: "grace", note: "hi grace" }]])
    const afterA = succeed(started.record, "a", "hello grace")!
    expect(afterA.dispatch.map((task) => [task.stage, task.inputs])).toEqual([["b", { text: "hello grace" }], ["c", {}]])
    const afterB = succeed(afterA.record, "b", ["h", "i"])!
    expect(afterB.dispatch).toEqual([])
    const afterC = succeed(afterB.record, "c", { x: 1 })!
    expect(afterC.dispatch.map((task) => task.stage)).toEqual(["d"])
    const done = succeed(afterC.record, "d", null)!
    expect(done.record.status).toBe("succeeded")
    expect(kinds(done)).toEqual(["stage.finished:d", "run.finished"])
    expect(done.record.state).toEqual({ greeting: "hello grace", letters: ["h", "i"], meta: { x: 1 } })
  })

  it("applies outputs by metadata and counts them into stage.finished events", () => {
    const run = makeRun([{ name: "l", type: "letters" }, { name: "w", type: "words" }, { name: "m", type: "meta" }])
    let doc = RunActor.start(run, 0).record
    const letters = succeed(doc, "l", ["a", "b", "c"])!
    expect(letters.events.find((e) => e.kind === "stage.finished")?.count).toBe(3)
    doc = letters.record
    const words = succeed(doc, "w", { words: ["x", "y"], wordCount: 2, ignored: true })!
    expect(words.events.find((e) => e.kind === "stage.finished")?.count).toBe(4)
    doc = words.record
    expect(doc.state).toEqual({ letters: ["a", "b", "c"], words: ["x", "y"], wordCount: 2 })
    const rejected = succeed(doc, "m", [1, 2])!
    expect(rejected.record.status).toBe("failed")
    expect(rejected.record.error?.message).toContain("output mode merge expects an object, found an array")
  })

  it("ignores a duplicate or stale result so each result is applied once", () => {
    const run = makeRun([{ name: "l", type: "letters" }, { name: "g", type: "gate" }])
    const started = RunActor.start(run, 0)
    const first = succeed(started.record, "l", ["a"])!
    expect(first.record.state).toEqual({ letters: ["a"] })
    expect(succeed(first.record, "l", ["a"])).toBeUndefined()
  })

  it("retries with exponential backoff and fails the run after the last attempt, skipping dependents", () => {
    const run = makeRun([
      { name: "a", type: "greet", retries: { max_attempts: 3, backoff_ms: 100, factor: 2 } },
      { name: "b", type: "gate", depends_on: ["a"] }
    ])
    let doc = RunActor.start(run, 0).record
    const first = failWith(doc, "a", true, 10)!
    expect(first.timers).toEqual([{ stage: "a", at: 110 }])
    expect(kinds(first)).toEqual(["stage.failed:a", "stage.retrying:a"])
    doc = RunActor.onRetryDue(first.record, "a", 110)!.record
    expect(doc.stages.a!.attempt).toBe(2)
    const second = failWith(doc, "a", true, 120)!
    expect(second.timers).toEqual([{ stage: "a", at: 320 }])
    doc = RunActor.onRetryDue(second.record, "a", 320)!.record
    const last = failWith(doc, "a", true, 330)!
    expect(last.record.status).toBe("failed")
    expect(last.record.stages.b!.status).toBe("skipped")
    expect(kinds(last)).toEqual(["stage.failed:a", "stage.skipped:b", "run.finished"])
    expect(last.record.error?.message).toBe(`stage "a" failed after 3 attempts: boom`)
  })

  it("does not retry an error that says it is not retryable", () => {
    const run = makeRun([{ name: "a", type: "greet", retries: { max_attempts: 5 } }])
    const failed = failWith(RunActor.start(run, 0).record, "a", false)!
    expect(failed.record.status).toBe("failed")
    expect(failed.timers).toEqual([])
  })

  it("cancels a running run once and skips what had not finished", () => {
    const run = makeRun([{ name: "a", type: "greet" }, { name: "b", type: "gate", depends_on: ["a"] }])
    const started = RunActor.start(run, 0)
    const cancelled = RunActor.cancel(started.record, "user asked", 5)!
    expect(cancelled.record.status).toBe("cancelled")
    expect(cancelled.record.stages.b!.status).toBe("skipped")
    expect(RunActor.cancel(cancelled.record, "again", 6)).toBeUndefined()
    expect(succeed(cancelled.record, "a", "late")).toBeUndefined()
  })

  it("re-sends in-flight tasks and re-arms retry timers when a run resumes", () => {
    const run = makeRun([{ name: "a", type: "greet", retries: { max_attempts: 2, backoff_ms: 50 } }, { name: "b", type: "letters" }])
    const started = RunActor.start(run, 0)
    const retrying = failWith(started.record, "a", true, 10)!
    const resumed = RunActor.resume(retrying.record, 20)
    expect(resumed.dispatch.map((task) => [task.stage, task.attempt])).toEqual([["b", 1]])
    expect(resumed.timers).toEqual([{ stage: "a", at: 60 }])
  })
})
