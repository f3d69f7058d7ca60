import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { Bus, NatsBus } from "../../../services/bus/index.ts"
import { collect } from "../../support/collect.ts"
import { eventually } from "../../support/eventually.ts"
import * as NatsServer from "../../support/NatsServer.ts"

const bytes = (text: string) => new TextEncoder().encode(text)
const text = (data: Uint8Array) => new TextDecoder().decode(data)

const setup = Effect.gen(function* () {
  const bus = yield* Bus
  yield* bus.ensureStream({ name: "JOBS", subjects: ["jobs.>"], duplicateWindow: "1 minute", retention: "workqueue" })
  yield* bus.ensureConsumer({
    stream: "JOBS",
    durable: "workers",
    filterSubject: "jobs.>",
    ackWait: "2 seconds",
    maxDeliver: 5,
    maxAckPending: 10
  })
  return bus
})

describe("NATS bus across server restarts", () => {
  it.live(
    "keeps consuming after the server restarts",
    () =>
      Effect.gen(function* () {
        const server = yield* NatsServer.scoped()
        yield* Effect.gen(function* () {
          const bus = yield* setup
          const jobs = yield* collect("jobs", yield* bus.consume({ stream: "JOBS", durable: "workers", slots: 4 }), (job) => job.ack)
          yield* bus.enqueue("jobs.a", bytes("before"))
          yield* jobs.atLeast(1)
          yield* Effect.promise(() => server.restart())
          yield* eventually("enqueue succeeds once reconnected", bus.enqueue("jobs.a", bytes("after"), { msgId: "after" }), {
            timeout: "15 seconds",
            interval: "100 millis"
          })
          const seen = yield* jobs.atLeast(2, { timeout: "15 seconds" })
          assert.deepStrictEqual(
            seen.map((job) => text(job.data)),
            ["before", "after"]
          )
        }).pipe(Effect.scoped, Effect.provide(NatsBus.layer({ url: server.url })))
      }),
    40_000
  )

  it.live(
    "keeps an enqueued message through a crash of the server",
    () =>
      Effect.gen(function* () {
        const server = yield* NatsServer.scoped()
        const layer = NatsBus.layer({ url: server.url })
        yield* Effect.gen(function* () {
          const bus = yield* setup
          yield* bus.enqueue("jobs.a", bytes("survivor"))
        }).pipe(Effect.provide(layer))
        yield* Effect.promise(() => server.kill())
        yield* Effect.promise(() => server.restart())
        yield* Effect.gen(function* () {
          const bus = yield* Bus
          const jobs = yield* collect("jobs", yield* bus.consume({ stream: "JOBS", durable: "workers", slots: 1 }), (job) => job.ack)
          const [job] = yield* jobs.atLeast(1, { timeout: "15 seconds" })
          assert.strictEqual(text(job!.data), "survivor")
        }).pipe(Effect.scoped, Effect.provide(layer))
      }),
    40_000
  )
})
