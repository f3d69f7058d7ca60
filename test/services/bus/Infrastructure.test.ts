import { assert, describe, it } from "@effect/vitest"
import { Effect, Logger, Ref, Scope } from "effect"
import { Bus, BusError, Infrastructure, MemoryBus } from "../../../services/bus/index.ts"
import { eventually } from "../../support/eventually.ts"

const gone = new BusError({ operation: "kv.put", subject: "KV_things", code: "10059", message: "stream KV_things is gone" })
const down = new BusError({ operation: "ensureStream", subject: "THINGS", code: "TIMEOUT", message: "no answer" })

/**
 * An ensure whose outcome the test sets: `failing` makes it fail; `created` names what the next
 * success makes (once, as a real ensure creates a thing only the first time).
 */
const controlled = Effect.gen(function* () {
  const failing = yield* Ref.make(false)
  const created = yield* Ref.make<ReadonlyArray<string>>([])
  const calls = yield* Ref.make(0)
  const successes = yield* Ref.make(0)
  const ensure = Effect.gen(function* () {
    yield* Ref.update(calls, (n) => n + 1)
    if (yield* Ref.get(failing)) return yield* down
    yield* Ref.update(successes, (n) => n + 1)
    return yield* Ref.getAndSet(created, [])
  })
  return { failing, created, calls, successes, ensure }
})

interface Captured {
  readonly level: string
  readonly message: string
}

const capturing = (seen: Array<Captured>) =>
  Logger.layer([
    Logger.make<unknown, void>((options) => {
      const message = Array.isArray(options.message) ? String(options.message[0]) : String(options.message)
      seen.push({ level: options.logLevel, message })
    })
  ])

const onMemoryBus = <A, E>(effect: Effect.Effect<A, E, Bus | Scope.Scope>) => effect.pipe(Effect.scoped, Effect.provide(MemoryBus.layer))

describe("Infrastructure", () => {
  it.live("ensures at start, and a first ensure that fails fails the service", () =>
    onMemoryBus(
      Effect.gen(function* () {
        const { calls, ensure, failing } = yield* controlled
        yield* Infrastructure.make({ service: "things", ensure })
        assert.strictEqual(yield* Ref.get(calls), 1)
        yield* Ref.set(failing, true)
        const error = yield* Infrastructure.make({ service: "things", ensure }).pipe(Effect.flip)
        assert.strictEqual(error, down)
      })
    )
  )

  it.live("after a loss, retries until it can put things back, not ready meanwhile, then runs the recovered step and is ready", () =>
    onMemoryBus(
      Effect.gen(function* () {
        const { calls, created, ensure, failing } = yield* controlled
        const recovered = yield* Ref.make<ReadonlyArray<ReadonlyArray<string>>>([])
        const infrastructure = yield* Infrastructure.make({
          service: "things",
          ensure,
          recovered: (made) => Ref.update(recovered, (all) => [...all, made]),
          firstRetry: "20 millis"
        })
        assert.isTrue(yield* infrastructure.ready)
        yield* Ref.set(failing, true)
        yield* infrastructure.lost(gone)
        yield* eventually(
          "not ready while the ensure fails",
          Effect.map(infrastructure.ready, (ready) => !ready)
        )
        const refused = yield* infrastructure.serve("things.get", Effect.succeed("answer")).pipe(Effect.flip)
        assert.strictEqual(refused._tag, "ServiceUnavailableError")
        yield* eventually(
          "a few attempts",
          Effect.map(Ref.get(calls), (n) => n >= 3)
        )
        yield* Ref.set(created, ["bucket things"])
        yield* Ref.set(failing, false)
        yield* eventually("ready again", infrastructure.ready)
        assert.deepStrictEqual(yield* Ref.get(recovered), [["bucket things"]])
        assert.strictEqual(yield* infrastructure.serve("things.get", Effect.succeed("answer")), "answer")
      })
    )
  )

  it.live("ignores a failure that does not say something is gone", () =>
    onMemoryBus(
      Effect.gen(function* () {
        const { calls, ensure } = yield* controlled
        const infrastructure = yield* Infrastructure.make({ service: "things", ensure })
        yield* infrastructure.lost(down)
        const error = yield* infrastructure.serve("things.get", Effect.fail(down)).pipe(Effect.flip)
        assert.strictEqual(error, down, "passed on as it was")
        yield* Effect.yieldNow
        assert.strictEqual(yield* Ref.get(calls), 1, "no recovery")
      })
    )
  )

  it.live("answers a request whose operation found something gone with ServiceUnavailableError, and puts it back", () =>
    onMemoryBus(
      Effect.gen(function* () {
        const { calls, ensure } = yield* controlled
        const infrastructure = yield* Infrastructure.make({ service: "things", ensure })
        const error = yield* infrastructure.serve("things.put", Effect.fail(gone)).pipe(Effect.flip)
        assert.strictEqual(error._tag, "ServiceUnavailableError")
        if (error._tag === "ServiceUnavailableError") {
          assert.strictEqual(error.subject, "things.put")
          assert.strictEqual(error.operation, "kv.put")
          assert.isTrue(error.isRetryable)
        }
        yield* eventually(
          "ensured again",
          Effect.map(Ref.get(calls), (n) => n >= 2)
        )
      })
    )
  )

  it.live("logs an outage once however many failures and signals it sees, then that it recovered", () =>
    Effect.gen(function* () {
      const seen: Array<Captured> = []
      yield* Effect.gen(function* () {
        const { calls, created, ensure, failing, successes } = yield* controlled
        const infrastructure = yield* Infrastructure.make({ service: "things", ensure, firstRetry: "10 millis" })
        yield* Ref.set(failing, true)
        for (let i = 0; i < 5; i++) yield* infrastructure.lost(gone)
        yield* eventually(
          "several failed attempts",
          Effect.map(Ref.get(calls), (n) => n >= 5)
        )
        for (let i = 0; i < 5; i++) yield* infrastructure.lost(gone)
        yield* Ref.set(created, ["stream THINGS"])
        yield* Ref.set(failing, false)
        yield* eventually("ready again", infrastructure.ready)
        // The losses reported during the outage fold into one more pass, which finds everything in place.
        yield* eventually(
          "start, recovery and one more pass succeeded",
          Effect.map(Ref.get(successes), (n) => n >= 3)
        )
      }).pipe(Effect.scoped, Effect.provide(MemoryBus.layer), Effect.provide(capturing(seen)))
      const said = seen.filter((entry) => entry.level === "Warn" || entry.level === "Info" || entry.level === "Error")
      assert.deepStrictEqual(
        said.map((entry) => entry.level),
        ["Warn", "Warn", "Info"],
        JSON.stringify(said)
      )
      assert.include(said[0]!.message, "cannot put its streams, consumers and buckets back yet")
      assert.include(said[1]!.message, "stream THINGS was gone")
      assert.include(said[2]!.message, "recovered")
    })
  )
})
