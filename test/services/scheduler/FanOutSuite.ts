/**
 * `for_each` stages over a real bus: one task per batch of items spread over
 * the pool's replicas, outputs combined in item order, per-item retries,
 * `on_item_failure: skip`, cancel mid-fan-out, a scheduler restarted
 * mid-fan-out (no finished item runs again), a repeated item result applied
 * once, and a replica stopped mid-fan-out whose items go to the other. Run
 * once per bus adapter.
 */
import { describe, expect, it } from "@effect/vitest"
import { Duration, Effect, Layer, Schema } from "effect"
import type { Scope } from "effect"
import type { Bus } from "../../../services/bus/Bus.ts"
import * as Codec from "../../../schemas/Codec.ts"
import { WireType } from "../../../schemas/Catalog.ts"
import { RunCancel } from "../../../schemas/Run.ts"
import { makeTaskResult, TaskResult } from "../../../schemas/Task.ts"
import { defineStage } from "../../../sdk/defineStage.ts"
import { StageError } from "../../../schemas/Stage.ts"
import { eventually } from "../../support/eventually.ts"
import { isKind } from "../../support/events.ts"
import { makeStack } from "./harness.ts"
import { BlobStore } from "../../../services/bus/BlobStore.ts"
import { resolve } from "../../../services/bus/BlobJson.ts"
import { isBlobRef, listMediaType } from "../../../schemas/Blob.ts"

/** How many times each item ran, by run and item. */
const runs = new Map<string, number>()
const ran = (runId: string, item: number) => runs.get(`${runId}/${item}`) ?? 0

/** Items that fail (retryably) on their first attempt, and items that always fail. */
const flaky = new Set<number>([2, 7])
const broken = new Set<number>([4])

/** Squares its items; `delayMs` makes each task take a while (and stops when aborted). */
const square = defineStage({
  type: "test.square",
  version: "1.0.0",
  description: "Squares numbers.",
  plugin: "test",
  stateKey: "squares",
  output: "set",
  count: "length",
  inputs: Schema.Struct({
    numbers: Schema.Array(Schema.Int),
    delayMs: Schema.optionalKey(Schema.Int),
    failing: Schema.optionalKey(Schema.Boolean)
  }),
  outputs: Schema.Array(Schema.Int),
  run: ({ delayMs = 0, failing = false, numbers }, ctx) =>
    new Promise<ReadonlyArray<number>>((resolve, reject) => {
      for (const n of numbers) runs.set(`${ctx.runId}/${n}`, ran(ctx.runId, n) + 1)
      if (failing && numbers.some((n) => broken.has(n)))
        return reject(new StageError({ message: `item ${numbers} is broken`, retryable: false }))
      if (failing && numbers.some((n) => flaky.has(n) && ran(ctx.runId, n) === 1)) {
        return reject(new StageError({ message: `item ${numbers} failed once`, retryable: true }))
      }
      const timer = setTimeout(() => resolve(numbers.map((n) => n * n)), delayMs)
      ctx.signal.addEventListener("abort", () => clearTimeout(timer))
    })
})

/** Splits a word into letters, as a `unpack` stage with two slots. */
const spell = defineStage({
  type: "test.spell",
  version: "1.0.0",
  description: "Letters and lengths of words.",
  plugin: "test",
  stateKey: ["letters", "lengths"],
  output: "unpack",
  count: "length(letters)",
  inputs: Schema.Struct({ words: Schema.Array(Schema.String) }),
  outputs: Schema.Struct({ letters: Schema.Array(Schema.String), lengths: Schema.Array(Schema.Int) }),
  run: ({ words }) => Promise.resolve({ letters: words.flatMap((word) => [...word]), lengths: words.map((word) => word.length) })
})

const numbers = (count: number) => Array.from({ length: count }, (_, index) => index)

/** The numbers 0 to count - 1, as one task: past the segment size, the executor stores them as a list in segments. */
const count = defineStage({
  type: "test.count",
  version: "1.0.0",
  description: "Counts up.",
  plugin: "test",
  stateKey: "numbers",
  output: "set",
  count: "length",
  inputs: Schema.Struct({ upTo: Schema.Int }),
  outputs: Schema.Array(Schema.Int),
  run: ({ upTo }) => Promise.resolve(numbers(upTo))
})

/** Doubles one number, given as `{{ item }}`. */
const double = defineStage({
  type: "test.double",
  version: "1.0.0",
  description: "Doubles a number.",
  plugin: "test",
  stateKey: "doubled",
  output: "set",
  count: "length",
  inputs: Schema.Struct({ number: Schema.Int }),
  outputs: Schema.Int,
  run: ({ number }) => Promise.resolve(number * 2)
})

/** The largest batch `test.square` was given, by run: a stage sees its items, never a reference. */
const batches = new Map<string, number>()
const measured = defineStage({
  type: "test.measured-square",
  version: "1.0.0",
  description: "Squares numbers, noting the largest batch.",
  plugin: "test",
  stateKey: "squares",
  output: "set",
  count: "length",
  inputs: Schema.Struct({ numbers: Schema.Array(Schema.Int) }),
  outputs: Schema.Array(Schema.Int),
  run: ({ numbers }, ctx) => {
    batches.set(ctx.runId, Math.max(batches.get(ctx.runId) ?? 0, numbers.length))
    return Promise.resolve(numbers.map((n) => n * n))
  }
})

const pipeline = (options: {
  readonly count: number
  readonly batch?: number
  readonly maxParallel?: number
  readonly delayMs?: number
  readonly failing?: boolean
  readonly extra?: string
}) => `
name: fanout
inputs:
  numbers: ${JSON.stringify(numbers(options.count))}
stages:
  - name: square
    type: test.square
    for_each: "{{ inputs.numbers }}"
    batch: ${options.batch ?? 1}
    max_parallel: ${options.maxParallel ?? 4}
${options.extra ?? ""}
    inputs:
      numbers: "{{ items }}"
      delayMs: ${options.delayMs ?? 0}
      failing: ${options.failing ?? false}
`

export const fanOutSuite = (name: string, makeBus: () => Layer.Layer<Bus, unknown>) =>
  describe(`for_each stages over ${name}`, () => {
    const run = <A, E>(effect: Effect.Effect<A, E, Bus | Scope.Scope>) => effect.pipe(Effect.scoped, Effect.provide(Layer.orDie(makeBus())))

    it.live("runs one task per batch over two replicas and combines the outputs in item order", () =>
      run(
        Effect.gen(function* () {
          const stack = yield* makeStack("fanorder")
          yield* stack.registry
          const first = yield* stack.executor({ pool: "test", definitions: [square, spell] })
          const second = yield* stack.executor({ pool: "test", definitions: [square, spell] })
          yield* stack.scheduler()
          yield* stack.registered(["test.square", "test.spell"])
          const reply = yield* stack.submit(pipeline({ count: 25, batch: 3, maxParallel: 4, delayMs: 20 }))
          expect(reply.issues).toEqual([])
          const { events, finished } = yield* stack.finished(reply.runId!)
          expect(finished.status).toBe("succeeded")
          expect(finished.state.squares).toEqual(numbers(25).map((n) => n * n))
          const progress = events.filter(isKind("stage.progress"))
          expect(progress.at(-1)).toMatchObject({ done: 25, total: 25, skipped: 0, count: 25 })
          expect(events.find(isKind("stage.finished"))?.count).toBe(25)
          // Never more than max_parallel tasks out at once: started tasks minus finished ones.
          expect(progress.length).toBe(Math.ceil(25 / 3) + 1)
          void first
          void second
        })
      )
    )

    it.live("maps a stage over a list stored in segments: each task reads its own part, and the combined list is stored in segments", () =>
      run(
        Effect.gen(function* () {
          const stack = yield* makeStack("fansegments")
          yield* stack.registry
          yield* stack.executor({ pool: "test", definitions: [count, measured] })
          yield* stack.executor({ pool: "test", definitions: [count, measured] })
          yield* stack.scheduler()
          yield* stack.registered(["test.count", "test.measured-square"])
          // 60,000 numbers are about 400 KB of JSON: two segments and more.
          const upTo = 60_000
          const { finished } = yield* stack.finished(
            (yield* stack.submit(`
name: segments
stages:
  - { name: count, type: test.count, inputs: { upTo: ${upTo} } }
  - name: square
    type: test.measured-square
    depends_on: [count]
    for_each: "{{ state.numbers }}"
    batch: 7000
    max_parallel: 4
    inputs: { numbers: "{{ items }}" }
`)).runId!
          )
          expect(finished.status).toBe("succeeded")
          expect(finished.state.numbers).toMatchObject({ mediaType: listMediaType, length: upTo })
          expect(finished.state.squares).toMatchObject({ mediaType: listMediaType, length: upTo })
          expect(batches.get(finished.runId)).toBe(7000)
          const squares = yield* resolve(finished.state.squares).pipe(Effect.provideService(BlobStore, stack.blobs))
          expect(squares).toEqual(numbers(upTo).map((n) => n * n))
        })
      )
    )

    it.live("gives each task of a stage over a stored list its item by reference, which the executor reads", () =>
      run(
        Effect.gen(function* () {
          const stack = yield* makeStack("fanitem")
          yield* stack.registry
          // A small threshold stores the 200 numbers (about 1 KB of JSON) as a blob.
          yield* stack.executor({ pool: "test", definitions: [count, double], blobThreshold: 256 })
          yield* stack.scheduler({ blobThreshold: 256 })
          yield* stack.registered(["test.count", "test.double"])
          const { events, finished } = yield* stack.finished(
            (yield* stack.submit(`
name: items
stages:
  - { name: count, type: test.count, inputs: { upTo: 200 } }
  - name: double
    type: test.double
    depends_on: [count]
    for_each: "{{ state.numbers }}"
    max_parallel: 16
    inputs: { number: "{{ item }}" }
`)).runId!
          )
          expect(finished.status).toBe("succeeded")
          expect(finished.state.numbers).toMatchObject({ mediaType: "application/json", length: 200 })
          const doubled = yield* resolve(finished.state.doubled).pipe(Effect.provideService(BlobStore, stack.blobs))
          expect(doubled).toEqual(numbers(200).map((n) => n * 2))
          expect(events.filter(isKind("stage.progress")).at(-1)).toMatchObject({ done: 200, total: 200 })
        })
      )
    )

    for (const blobThreshold of [64 * 1024, 16]) {
      it.live(`gives each slot of an unpack stage the concatenation of the tasks' fields (blob threshold ${blobThreshold} bytes)`, () =>
        run(
          Effect.gen(function* () {
            const stack = yield* makeStack("fanunpack")
            yield* stack.registry
            // With a tiny threshold every task's fields and every slot travel as blob references.
            yield* stack.executor({ pool: "test", definitions: [square, spell], blobThreshold })
            yield* stack.scheduler({ blobThreshold })
            yield* stack.registered(["test.spell"])
            const text = `
name: spell
inputs: { words: [ab, cde, f] }
stages:
  - { name: spell, type: test.spell, for_each: "{{ inputs.words }}", inputs: { words: ["{{ item }}"] } }
`
            const { events, finished } = yield* stack.finished((yield* stack.submit(text)).runId!)
            expect(finished.status).toBe("succeeded")
            const state = yield* resolve(finished.state).pipe(Effect.provideService(BlobStore, stack.blobs))
            expect(state).toEqual({ letters: ["a", "b", "c", "d", "e", "f"], lengths: [2, 3, 1] })
            expect(isBlobRef(finished.state.letters)).toBe(blobThreshold < 64)
            expect(events.find(isKind("stage.finished"))?.count).toBe(6)
          })
        )
      )
    }

    it.live("retries a failed item on its own, and with on_item_failure: skip records a broken item as skipped", () =>
      run(
        Effect.gen(function* () {
          const stack = yield* makeStack("fanretry")
          yield* stack.registry
          yield* stack.executor({ pool: "test", definitions: [square] })
          yield* stack.scheduler()
          yield* stack.registered(["test.square"])
          const text = pipeline({
            count: 10,
            failing: true,
            extra: "    on_item_failure: skip\n    retries: { max_attempts: 2, backoff_ms: 10 }"
          })
          const runId = (yield* stack.submit(text)).runId!
          const { events, finished } = yield* stack.finished(runId)
          expect(finished.status).toBe("succeeded")
          expect(finished.state.squares).toEqual(
            numbers(10)
              .filter((n) => !broken.has(n))
              .map((n) => n * n)
          )
          expect(ran(runId, 2)).toBe(2)
          expect(ran(runId, 7)).toBe(2)
          expect(ran(runId, 3)).toBe(1)
          const retried = events.filter(isKind("stage.retrying")).map((event) => event.item)
          expect(retried.sort()).toEqual([2, 7])
          const skipped = events.filter(isKind("stage.failed")).filter((event) => event.skipped === true)
          expect(skipped.map((event) => event.item)).toEqual([4])
          expect(events.filter(isKind("stage.progress")).at(-1)).toMatchObject({ done: 10, total: 10, skipped: 1 })
        })
      )
    )

    it.live("fails the stage, naming the task and its items, when an item fails for good", () =>
      run(
        Effect.gen(function* () {
          const stack = yield* makeStack("fanfail")
          yield* stack.registry
          yield* stack.executor({ pool: "test", definitions: [square] })
          const scheduler = yield* stack.scheduler()
          yield* stack.registered(["test.square"])
          const { finished } = yield* stack.finished((yield* stack.submit(pipeline({ count: 6, batch: 2, failing: true }))).runId!)
          expect(finished.status).toBe("failed")
          // The failed stage never combines: its list goes with the run.
          expect(yield* scheduler.service.itemListsHeld).toBe(0)
          // Item 2 fails (retryably, but the stage has one attempt) in task 1.
          expect(finished.error?.message).toContain('stage "square" task 1 (items 2-3) failed after 1 attempt: item 2,3 failed once')
          expect(finished.error?.fields?.item).toBe(1)
        })
      )
    )

    it.live("cancel stops the stage's tasks in flight and sends no more", () =>
      run(
        Effect.gen(function* () {
          const stack = yield* makeStack("fancancel")
          yield* stack.registry
          const executor = yield* stack.executor({ pool: "test", definitions: [square], shutdownGrace: "0 millis" })
          const scheduler = yield* stack.scheduler({ cancelConfirmTimeout: Duration.seconds(5) })
          yield* stack.registered(["test.square"])
          const runId = (yield* stack.submit(pipeline({ count: 40, maxParallel: 3, delayMs: 60_000 }))).runId!
          yield* eventually(
            "three tasks to run",
            Effect.map(executor.service.inFlight, (n) => n === 3)
          )
          const answer = yield* scheduler.service.cancel(new RunCancel({ version: 1, runId, reason: "enough" }))
          expect(answer.cancelled).toBe(true)
          expect([...(answer.stopped ?? [])].sort()).toEqual([0, 1, 2].map((index) => `${runId}.square[${index}]`))
          expect(yield* executor.service.inFlight).toBe(0)
          const { finished } = yield* stack.finished(runId)
          expect(finished.status).toBe("cancelled")
          expect(numbers(40).filter((n) => ran(runId, n) > 0)).toEqual([0, 1, 2])
          expect(yield* scheduler.service.itemListsHeld).toBe(0)
        })
      )
    )

    it.live("a scheduler restarted mid-fan-out resumes without running finished items again", () =>
      run(
        Effect.gen(function* () {
          const stack = yield* makeStack("fanrestart")
          yield* stack.registry
          yield* stack.executor({ pool: "test", definitions: [square] })
          const first = yield* stack.scheduler()
          yield* stack.registered(["test.square"])
          const runId = (yield* stack.submit(pipeline({ count: 30, maxParallel: 2, delayMs: 30 }))).runId!
          yield* eventually(
            "some items to finish",
            Effect.map(stack.eventsOf(runId), (events) => events.filter(isKind("stage.progress")).some((event) => event.done >= 6))
          )
          yield* first.stop
          const finishedBefore = numbers(30).filter((n) => ran(runId, n) > 0)
          yield* stack.scheduler()
          const { finished } = yield* stack.finished(runId, "30 seconds")
          expect(finished.status).toBe("succeeded")
          expect(finished.state.squares).toEqual(numbers(30).map((n) => n * n))
          for (const n of finishedBefore) expect(ran(runId, n), `item ${n}`).toBe(1)
          for (const n of numbers(30)) expect(ran(runId, n), `item ${n}`).toBe(1)
        })
      )
    )

    it.live("applies a repeated item result once", () =>
      run(
        Effect.gen(function* () {
          const stack = yield* makeStack("fandup")
          yield* stack.registry
          yield* stack.executor({ pool: "test", definitions: [square] })
          yield* stack.scheduler()
          yield* stack.registered(["test.square"])
          const runId = (yield* stack.submit(pipeline({ count: 4, maxParallel: 1, delayMs: 300 }))).runId!
          yield* eventually(
            "the first item to finish",
            Effect.map(stack.eventsOf(runId), (events) => events.filter(isKind("stage.progress")).some((event) => event.done === 1))
          )
          // The same result again, under a message id of its own so the stream keeps it.
          const repeat = makeTaskResult({
            version: 1,
            taskId: `${runId}.square[0]`,
            runId,
            stage: "square",
            stageType: "test.square",
            attempt: 1,
            executorId: "elsewhere",
            pool: "test",
            status: "succeeded",
            output: [0],
            durationMs: 1
          })
          const message = Codec.encode(TaskResult, WireType.TaskResult, repeat)
          yield* stack.bus.enqueue(stack.names.taskResult(runId), message.data, { msgId: "repeat-0", headers: message.headers })
          const { events, finished } = yield* stack.finished(runId)
          expect(finished.state.squares).toEqual([0, 1, 4, 9])
          const done = events.filter(isKind("stage.progress")).map((event) => event.done)
          expect(done).toEqual([0, 1, 2, 3, 4])
        })
      )
    )

    it.live("a replica stopped mid-fan-out leaves its items to the other replica", () =>
      run(
        Effect.gen(function* () {
          const stack = yield* makeStack("fankill")
          yield* stack.registry
          const doomed = yield* stack.executor({ pool: "test", definitions: [square], shutdownGrace: "0 millis", ackWait: "1 second" })
          yield* stack.registered(["test.square"])
          yield* stack.scheduler()
          const runId = (yield* stack.submit(pipeline({ count: 12, maxParallel: 4, delayMs: 400 }))).runId!
          yield* eventually(
            "the first replica to hold tasks",
            Effect.map(doomed.service.inFlight, (n) => n > 0)
          )
          const survivor = yield* stack.executor({ pool: "test", definitions: [square], ackWait: "1 second" })
          yield* doomed.stop
          const { events, finished } = yield* stack.finished(runId, "40 seconds")
          expect(finished.status).toBe("succeeded")
          expect(finished.state.squares).toEqual(numbers(12).map((n) => n * n))
          void survivor
          expect(events.filter(isKind("stage.progress")).at(-1)).toMatchObject({ done: 12, total: 12 })
        })
      )
    )
  })
