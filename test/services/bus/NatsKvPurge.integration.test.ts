/**
 * A purged key leaves nothing in its bucket's stream over NATS: a delete
 * leaves a marker per key, which piles up in buckets whose keys come and go
 * (run records removed by `runs gc`, a mapped stage's item results dropped
 * once combined). The port's behaviour (gone from get and keys) is in the
 * bus suite; this checks the stream itself, which only NATS has.
 */
import { assert, describe, it } from "@effect/vitest"
import { jetstreamManager } from "@nats-io/jetstream"
import { connect } from "@nats-io/transport-node"
import { Effect, Layer } from "effect"
import { inject } from "vitest"
import { Bus } from "../../../services/bus/Bus.ts"
import { NatsBus } from "../../../services/bus/index.ts"
import { uniquePrefix } from "../../support/unique.ts"

const bytes = (text: string) => new TextEncoder().encode(text)

describe("purging KV keys over NATS", () => {
  it.live("leaves no message of a purged key in the bucket's stream, where a delete leaves a marker", () =>
    Effect.gen(function* () {
      const bus = yield* Bus
      const bucket = `kv_${uniquePrefix()}`
      const kv = yield* bus.kv(bucket)
      for (let i = 0; i < 20; i++) yield* kv.put(`run-${i}`, bytes(`record ${i}`))
      for (let i = 0; i < 10; i++) yield* kv.purge(`run-${i}`)
      for (let i = 10; i < 20; i++) yield* kv.delete(`run-${i}`)
      const nc = yield* Effect.promise(() => connect({ servers: inject("natsUrl") }))
      yield* Effect.addFinalizer(() => Effect.promise(() => nc.close()))
      const jsm = yield* Effect.promise(() => jetstreamManager(nc))
      const info = yield* Effect.promise(() => jsm.streams.info(`KV_${bucket}`))
      // Ten delete markers; nothing of the ten purged keys.
      assert.strictEqual(info.state.messages, 10)
      assert.deepStrictEqual(yield* kv.keys, [])
    }).pipe(Effect.scoped, Effect.provide(Layer.orDie(NatsBus.layer({ url: inject("natsUrl") }))))
  )
})
