/**
 * Dead letters of messages near the server's max payload (1 MiB by default):
 * the record with the payload in base64 would pass it, so it goes without the
 * payload, saying why, and keeps the headers that name the message. Without
 * that the record could not be published at all, and a terminated or
 * exhausted task would never be reported. NATS only: the in-memory bus has no
 * max payload.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect, Layer } from "effect"
import { inject } from "vitest"
import { Bus, type DeadLetter } from "../../../services/bus/Bus.ts"
import { NatsBus } from "../../../services/bus/index.ts"
import { collect } from "../../support/collect.ts"
import { uniquePrefix } from "../../support/unique.ts"

const decoder = new TextDecoder()
// Under the max payload as a message, over it as base64 in a dead letter.
const large = new Uint8Array(800_000).fill(120)

const queue = (prefix: string, maxDeliver: number) =>
  Effect.gen(function* () {
    const bus = yield* Bus
    yield* bus.ensureStream({ name: `S_${prefix}`, subjects: [`${prefix}.jobs.>`], duplicateWindow: "1 minute", retention: "workqueue" })
    yield* bus.ensureConsumer({
      stream: `S_${prefix}`,
      durable: "workers",
      filterSubject: `${prefix}.jobs.>`,
      ackWait: "400 millis",
      maxDeliver,
      maxAckPending: 10,
      deadLetterSubject: `${prefix}.dead`
    })
    return bus
  })

describe("dead letters of large messages over NATS", () => {
  for (const path of ["terminated", "exhausted"] as const) {
    it.live(
      `${path === "terminated" ? "a" : "an"} ${path} message too large to keep in its dead letter is reported without its payload, saying why`,
      () =>
        Effect.gen(function* () {
          const prefix = uniquePrefix()
          const bus = yield* queue(prefix, 2)
          const dead = yield* collect("dead letters", yield* bus.subscribe(`${prefix}.dead`))
          yield* collect("jobs", yield* bus.consume({ stream: `S_${prefix}`, durable: "workers", slots: 2 }), (job) =>
            path === "terminated" ? job.term("poison") : Effect.void
          )
          const ack = yield* bus.enqueue(`${prefix}.jobs.big`, large, { headers: { "switchyard-task-id": "run-1.parse" } })
          const [letter] = yield* dead.atLeast(1, { timeout: "15 seconds" })
          const record = JSON.parse(decoder.decode(letter!.data)) as DeadLetter
          assert.strictEqual(record.seq, ack.seq)
          assert.strictEqual(record.reason, path === "terminated" ? "terminated: poison" : "max deliveries exceeded")
          assert.isUndefined(record.data)
          assert.include(record.dataOmitted ?? "", "800000 bytes")
          assert.include(record.dataOmitted ?? "", "max_payload of 1048576")
          assert.strictEqual(record.headers["switchyard-task-id"], "run-1.parse")
        }).pipe(Effect.scoped, Effect.provide(Layer.orDie(NatsBus.layer({ url: inject("natsUrl") }))))
    )
  }
})
