import { assert, describe, it } from "@effect/vitest"
import { Effect, Ref } from "effect"
import { TestClock } from "effect/testing"
import { eventually, EventuallyTimeoutError } from "./eventually.ts"

describe("eventually", () => {
  it.live("returns the first value other than false once the check holds", () =>
    Effect.gen(function* () {
      const calls = yield* Ref.make(0)
      const value = yield* eventually(
        "third call",
        Ref.updateAndGet(calls, (n) => n + 1).pipe(Effect.map((n) => (n >= 3 ? `call ${n}` : false)))
      )
      assert.strictEqual(value, "call 3")
    })
  )

  it.live("treats failures as not yet", () =>
    Effect.gen(function* () {
      const calls = yield* Ref.make(0)
      const n = yield* eventually(
        "second call",
        Ref.updateAndGet(calls, (n) => n + 1).pipe(Effect.flatMap((n) => (n < 2 ? Effect.fail(`only ${n}`) : Effect.succeed(n))))
      )
      assert.strictEqual(n, 2)
    })
  )

  it.live("fails at the deadline naming the label and the last thing it saw", () =>
    Effect.gen(function* () {
      const error = yield* eventually("the light turns green", Effect.fail("still red"), {
        timeout: "50 millis",
        interval: "5 millis"
      }).pipe(Effect.flip)
      assert.instanceOf(error, EventuallyTimeoutError)
      assert.include(error.message, "the light turns green")
      assert.include(error.message, "still red")
      assert.isAbove(error.attempts, 1)
    })
  )

  it.live("reports a defect such as a failed assertion as what it saw", () =>
    Effect.gen(function* () {
      const error = yield* eventually(
        "count reaches 3",
        Effect.sync(() => assert.strictEqual(1, 3, "count is 1")),
        {
          timeout: "30 millis"
        }
      ).pipe(Effect.flip)
      assert.include(error.message, "count is 1")
    })
  )

  it.effect("keeps polling on the live clock while a test clock is in use", () =>
    Effect.gen(function* () {
      const flag = yield* Ref.make(false)
      yield* Effect.sleep("1 minute").pipe(Effect.andThen(Ref.set(flag, true)), Effect.forkChild)
      yield* TestClock.adjust("1 minute")
      yield* eventually("the sleeper woke", Ref.get(flag))
    })
  )
})
