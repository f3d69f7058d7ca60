import { assert, describe, it } from "@effect/vitest"
import { Effect, Fiber } from "effect"
import { TestClock } from "effect/testing"
import { Bus, MemoryBus } from "../../../services/bus/index.ts"
import { collect } from "../../support/collect.ts"
import { busSuite } from "./BusSuite.ts"

busSuite("memory", () => MemoryBus.layer)

const bytes = (text: string) => new TextEncoder().encode(text)

// Lets every fiber woken by a clock adjustment run before looking at the result.
const settle = Effect.forEach([1, 2, 3, 4, 5], () => Effect.yieldNow, { discard: true })

const withQueue = Effect.gen(function* () {
  const bus = yield* Bus
  yield* bus.ensureStream({ name: "JOBS", subjects: ["jobs.>"], duplicateWindow: "2 minutes", retention: "workqueue" })
  yield* bus.ensureConsumer({
    stream: "JOBS",
    durable: "workers",
    filterSubject: "jobs.>",
    ackWait: "30 seconds",
    maxDeliver: 3,
    maxAckPending: 10,
    deadLetterSubject: "dead.jobs"
  })
  return bus
})

describe("memory bus on the test clock", () => {
  it.effect("redelivers an unacked message exactly when the clock passes the ack wait", () =>
    Effect.gen(function* () {
      const bus = yield* withQueue
      const jobs = yield* collect("jobs", yield* bus.consume({ stream: "JOBS", durable: "workers", slots: 5 }))
      yield* bus.enqueue("jobs.a", bytes("x"))
      yield* jobs.atLeast(1)
      yield* TestClock.adjust("29999 millis")
      yield* settle
      assert.strictEqual((yield* jobs.items).length, 1)
      yield* TestClock.adjust("1 millis")
      const seen = yield* jobs.atLeast(2)
      assert.strictEqual(seen[1]!.deliveryCount, 2)
    }).pipe(Effect.provide(MemoryBus.layer))
  )

  it.effect("holds a naked message back for its delay and keeps a worked one leased", () =>
    Effect.gen(function* () {
      const bus = yield* withQueue
      const jobs = yield* collect("jobs", yield* bus.consume({ stream: "JOBS", durable: "workers", slots: 5 }), (job) =>
        job.deliveryCount === 1 ? job.nak("10 seconds") : Effect.void
      )
      yield* bus.enqueue("jobs.a", bytes("x"))
      yield* jobs.atLeast(1)
      yield* TestClock.adjust("9 seconds")
      yield* settle
      assert.strictEqual((yield* jobs.items).length, 1)
      yield* TestClock.adjust("1 second")
      const [, again] = yield* jobs.atLeast(2)
      yield* TestClock.adjust("20 seconds")
      yield* again!.working
      yield* TestClock.adjust("20 seconds")
      yield* settle
      assert.strictEqual((yield* jobs.items).length, 2, "working restarted the 30 s ack wait")
      yield* TestClock.adjust("10 seconds")
      yield* jobs.atLeast(3)
    }).pipe(Effect.provide(MemoryBus.layer))
  )

  it.effect("forgets a message id once the duplicate window has passed", () =>
    Effect.gen(function* () {
      const bus = yield* withQueue
      const first = yield* bus.enqueue("jobs.a", bytes("x"), { msgId: "m1" })
      yield* TestClock.adjust("119 seconds")
      assert.isTrue((yield* bus.enqueue("jobs.a", bytes("x"), { msgId: "m1" })).duplicate)
      yield* TestClock.adjust("2 seconds")
      const later = yield* bus.enqueue("jobs.a", bytes("x"), { msgId: "m1" })
      assert.isFalse(later.duplicate)
      assert.isAbove(later.seq, first.seq)
    }).pipe(Effect.provide(MemoryBus.layer))
  )

  it.effect("times a request out on the clock", () =>
    Effect.gen(function* () {
      const bus = yield* Bus
      yield* bus.subscribe("quiet")
      const fiber = yield* bus.request("quiet", bytes("?"), { timeout: "10 seconds" }).pipe(Effect.flip, Effect.forkChild)
      yield* TestClock.adjust("10 seconds")
      const error = yield* Fiber.join(fiber)
      assert.strictEqual(error._tag, "RequestTimeoutError")
    }).pipe(Effect.provide(MemoryBus.layer))
  )
})
