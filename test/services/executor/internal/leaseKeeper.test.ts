import { assert, describe, it } from "@effect/vitest"
import { Clock, Duration, Effect } from "effect"
import { TestClock } from "effect/testing"
import type { JobMessage } from "../../../../services/bus/Bus.ts"
import { BusError } from "../../../../services/bus/BusError.ts"
import { LeaseKeeper } from "../../../../services/executor/internal/leaseKeeper.ts"

/** A leased message that records when its lease was renewed. */
const leased = (seq: number, renewals: Array<string>, options: { readonly failing?: boolean } = {}): JobMessage => ({
  subject: "task.run.p",
  data: new Uint8Array(),
  headers: {},
  seq,
  deliveryCount: 1,
  ack: Effect.void,
  nak: () => Effect.void,
  term: () => Effect.void,
  working: Effect.clockWith((clock) => {
    renewals.push(`${seq}@${clock.currentTimeMillisUnsafe()}`)
    return options.failing === true
      ? Effect.fail(new BusError({ operation: "working", subject: "task.run.p", code: "TEST", message: "gone" }))
      : Effect.void
  })
})

// Lets the keeper's fiber run after each clock adjustment.
const settle = Effect.forEach([1, 2, 3, 4, 5], () => Effect.yieldNow, { discard: true })

const startKeeper = (interval: Duration.Input) =>
  Effect.gen(function* () {
    const clock = yield* Clock.Clock
    const keeper = new LeaseKeeper({ clock, interval: Duration.fromInputUnsafe(interval) })
    yield* Effect.forkScoped(keeper.run)
    yield* settle
    return keeper
  })

describe("LeaseKeeper", () => {
  it.effect("renews a running task's lease once every interval of its run time, until it is untracked", () =>
    Effect.gen(function* () {
      const keeper = yield* startKeeper("10 seconds")
      const renewals: Array<string> = []
      const lease = keeper.track(leased(1, renewals), { taskId: "t1" })
      yield* TestClock.adjust("9999 millis")
      yield* settle
      assert.deepStrictEqual(renewals, [])
      yield* TestClock.adjust("1 millis")
      yield* settle
      assert.deepStrictEqual(renewals, ["1@10000"])
      yield* TestClock.adjust("10 seconds")
      yield* settle
      assert.deepStrictEqual(renewals, ["1@10000", "1@20000"])
      keeper.untrack(lease)
      assert.strictEqual(keeper.size, 0)
      yield* TestClock.adjust("30 seconds")
      yield* settle
      assert.deepStrictEqual(renewals, ["1@10000", "1@20000"])
    })
  )

  it.effect("renews each task on its own schedule, however the tasks' starts fall between its wake-ups", () =>
    Effect.gen(function* () {
      const keeper = yield* startKeeper("10 seconds")
      const renewals: Array<string> = []
      yield* TestClock.adjust("3 seconds")
      keeper.track(leased(1, renewals), {})
      yield* TestClock.adjust("4 seconds")
      const second = keeper.track(leased(2, renewals), {})
      yield* TestClock.adjust("6 seconds")
      yield* settle
      assert.deepStrictEqual(renewals, ["1@13000"])
      yield* TestClock.adjust("4 seconds")
      yield* settle
      assert.deepStrictEqual(renewals, ["1@13000", "2@17000"])
      keeper.untrack(second)
      yield* TestClock.adjust("10 seconds")
      yield* settle
      assert.deepStrictEqual(renewals, ["1@13000", "2@17000", "1@23000"])
    })
  )

  it.effect("keeps renewing the other leases when renewing one fails", () =>
    Effect.gen(function* () {
      const keeper = yield* startKeeper("1 second")
      const renewals: Array<string> = []
      keeper.track(leased(1, renewals, { failing: true }), { taskId: "t1" })
      keeper.track(leased(2, renewals), { taskId: "t2" })
      yield* TestClock.adjust("2 seconds")
      yield* settle
      assert.deepStrictEqual(renewals, ["1@1000", "2@1000", "1@2000", "2@2000"])
    })
  )
})
