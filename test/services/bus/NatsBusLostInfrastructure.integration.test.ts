import { assert, describe, it } from "@effect/vitest"
import { jetstreamManager } from "@nats-io/jetstream"
import { connect } from "@nats-io/transport-node"
import { Effect, Option, type Scope } from "effect"
import { inject } from "vitest"
import { Bus, type ConsumerConfig, type InfrastructureSignal, NatsBus } from "../../../services/bus/index.ts"
import { collect } from "../../support/collect.ts"
import { eventually, type EventuallyOptions } from "../../support/eventually.ts"
import * as NatsServer from "../../support/NatsServer.ts"
import { uniquePrefix } from "../../support/unique.ts"

const bytes = (text: string) => new TextEncoder().encode(text)
const text = (data: Uint8Array) => new TextDecoder().decode(data)

/** An operator's JetStream manager, on a connection of its own. */
const operator = (url: string) =>
  Effect.gen(function* () {
    const nc = yield* Effect.acquireRelease(
      Effect.promise(() => connect({ servers: url, name: "operator" })),
      (nc) => Effect.promise(() => nc.close())
    )
    return yield* Effect.promise(() => jetstreamManager(nc))
  })

/** Every infrastructure signal of the bus from now on, and a wait for one that matches. */
const signals = Effect.gen(function* () {
  const bus = yield* Bus
  const seen = yield* collect("infrastructure signals", yield* bus.infrastructure)
  return {
    wait: (label: string, matches: (signal: InfrastructureSignal) => boolean, options?: EventuallyOptions) =>
      eventually(
        label,
        seen.items.pipe(Effect.flatMap((all) => (all.some(matches) ? Effect.succeed(all) : Effect.fail(JSON.stringify(all))))),
        options
      )
  }
})

const missing = (resource: string) => (signal: InfrastructureSignal) => signal._tag === "Missing" && signal.resource === resource

const queue = (prefix: string) =>
  Effect.gen(function* () {
    const bus = yield* Bus
    const stream = `S_${prefix}`
    yield* bus.ensureStream({ name: stream, subjects: [`${prefix}.jobs.>`], duplicateWindow: "1 minute", retention: "workqueue" })
    const consumer: ConsumerConfig = {
      stream,
      durable: "workers",
      filterSubject: `${prefix}.jobs.>`,
      ackWait: "2 seconds",
      maxDeliver: 5,
      maxAckPending: 10
    }
    yield* bus.ensureConsumer(consumer)
    return { stream, consumer, subject: `${prefix}.jobs.a` }
  })

const shared = <A, E>(effect: Effect.Effect<A, E, Bus | Scope.Scope>) =>
  effect.pipe(Effect.scoped, Effect.provide(NatsBus.layer({ url: inject("natsUrl") })))

describe("NATS bus when streams, consumers or buckets are gone", () => {
  it.live(
    "signals a reconnect after the server came back",
    () =>
      Effect.gen(function* () {
        const server = yield* NatsServer.scoped()
        yield* Effect.gen(function* () {
          const seen = yield* signals
          yield* Effect.promise(() => server.restart({ wipe: true }))
          yield* seen.wait("a reconnect signal", (signal) => signal._tag === "Reconnected", { timeout: "20 seconds" })
        }).pipe(Effect.scoped, Effect.provide(NatsBus.layer({ url: server.url })))
      }).pipe(Effect.scoped),
    40_000
  )

  it.live(
    "signals a consumer deleted under a running consume, which leases from it again once it is recreated",
    () =>
      shared(
        Effect.gen(function* () {
          const bus = yield* Bus
          const { consumer, stream, subject } = yield* queue(uniquePrefix("gone"))
          const seen = yield* signals
          const jobs = yield* collect("jobs", yield* bus.consume({ stream, durable: "workers", slots: 2 }), (job) => job.ack)
          yield* bus.enqueue(subject, bytes("before"))
          yield* jobs.atLeast(1)
          const jsm = yield* operator(inject("natsUrl"))
          yield* Effect.promise(() => jsm.consumers.delete(stream, "workers"))
          yield* seen.wait("the consumer signalled missing", missing(`${stream}/workers`), { timeout: "20 seconds" })
          assert.isTrue(yield* bus.ensureConsumer(consumer), "the consumer is created anew")
          yield* bus.enqueue(subject, bytes("after"))
          const all = yield* jobs.atLeast(2, { timeout: "20 seconds" })
          assert.deepStrictEqual(
            all.map((job) => text(job.data)),
            ["before", "after"]
          )
        })
      ),
    40_000
  )

  it.live("fails an enqueue into a deleted stream as missing and retryable, and signals it", () =>
    shared(
      Effect.gen(function* () {
        const bus = yield* Bus
        const { stream, subject } = yield* queue(uniquePrefix("nostream"))
        const seen = yield* signals
        const jsm = yield* operator(inject("natsUrl"))
        yield* Effect.promise(() => jsm.streams.delete(stream))
        const error = yield* bus.enqueue(subject, bytes("x")).pipe(Effect.flip)
        assert.strictEqual(error.code, "NO_STREAM")
        assert.isTrue(error.isMissing)
        assert.isTrue(error.isRetryable)
        yield* seen.wait("the subject signalled missing", missing(subject))
      })
    )
  )

  it.live(
    "fails a write to a deleted bucket with the stream-not-found code, and the same handle works once the bucket is ensured",
    () =>
      shared(
        Effect.gen(function* () {
          const bus = yield* Bus
          const bucket = `kv_${uniquePrefix()}`
          const kv = yield* bus.kv(bucket)
          yield* kv.put("k", bytes("before"))
          const seen = yield* signals
          const jsm = yield* operator(inject("natsUrl"))
          yield* Effect.promise(() => jsm.streams.delete(`KV_${bucket}`))
          const error = yield* kv.put("k", bytes("lost")).pipe(Effect.flip)
          assert.strictEqual(error.code, "10059")
          assert.isTrue(error.isMissing)
          yield* seen.wait("the bucket's stream signalled missing", missing(`KV_${bucket}`))
          assert.isTrue(yield* bus.ensureBucket(bucket), "the bucket is created anew")
          yield* kv.put("k", bytes("after"))
          const entry = yield* kv.get("k")
          assert.strictEqual(Option.isSome(entry) ? text(entry.value.value) : undefined, "after")
          const keys = yield* kv.keys
          assert.deepStrictEqual(keys, ["k"])
        })
      ),
    30_000
  )
})
