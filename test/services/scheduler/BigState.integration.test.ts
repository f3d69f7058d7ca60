/**
 * A run whose state is far larger than NATS's default `max_payload` (1 MB)
 * succeeds over a real nats-server: stage outputs, task inputs and state
 * slots past the blob threshold travel as blob references, and no message on
 * the bus (tasks, results, events, run records, object store chunks) is
 * larger than the threshold.
 */
import { createHash } from "node:crypto"
import { describe, expect, it } from "@effect/vitest"
import { Effect, Layer, Schema } from "effect"
import { inject } from "vitest"
import * as NatsBus from "../../../services/bus/NatsBus.ts"
import { NatsConnection } from "../../../services/bus/NatsBus.ts"
import { isBlobRef, listMediaType } from "../../../schemas/Blob.ts"
import { defineStage } from "../../../sdk/defineStage.ts"
import { makeStack } from "./harness.ts"

const threshold = 64 * 1024

/** `count` rows of about 1 KiB each: 20,480 of them make 20 MiB. */
const rows = defineStage({
  type: "test.rows",
  version: "1.0.0",
  description: "Makes rows.",
  plugin: "test",
  stateKey: "rows",
  output: "set",
  count: "length",
  inputs: Schema.Struct({ count: Schema.Int }),
  outputs: Schema.Array(Schema.String),
  run: ({ count }) => Promise.resolve(Array.from({ length: count }, (_, index) => `${String(index).padStart(8, "0")}:${"x".repeat(1015)}`))
})

/** How many rows it was given, and their SHA-256 together. */
const digest = defineStage({
  type: "test.digest",
  version: "1.0.0",
  description: "Digests rows.",
  plugin: "test",
  stateKey: "digest",
  output: "set",
  count: "one",
  inputs: Schema.Struct({ rows: Schema.Array(Schema.String) }),
  outputs: Schema.Struct({ rows: Schema.Int, sha256: Schema.String }),
  run: ({ rows }) => Promise.resolve({ rows: rows.length, sha256: createHash("sha256").update(rows.join("\n")).digest("hex") })
})

const expected = (count: number) =>
  createHash("sha256")
    .update(Array.from({ length: count }, (_, index) => `${String(index).padStart(8, "0")}:${"x".repeat(1015)}`).join("\n"))
    .digest("hex")

describe("State past max_payload over a real nats-server", () => {
  it.live("runs a pipeline whose state is 20 MB, every message on the bus within the blob threshold", () =>
    Effect.gen(function* () {
      const nc = yield* NatsConnection
      let largest = { subject: "", bytes: 0 }
      const watch = nc.subscribe(">", {
        callback: (_, message) => {
          if (message.data.length > largest.bytes) largest = { subject: message.subject, bytes: message.data.length }
        }
      })
      yield* Effect.addFinalizer(() => Effect.sync(() => watch.unsubscribe()))
      const stack = yield* makeStack("bigstate")
      yield* stack.registry
      yield* stack.executor({ pool: "test", definitions: [rows, digest] })
      yield* stack.scheduler()
      yield* stack.registered(["test.rows", "test.digest"])
      const count = 20_480
      const reply = yield* stack.submit(`
name: big
stages:
  - { name: rows, type: test.rows, inputs: { count: ${count} } }
  - { name: digest, type: test.digest, depends_on: [rows], inputs: { rows: "{{ state.rows }}" } }
`)
      const { finished } = yield* stack.finished(reply.runId!, "90 seconds")
      expect(finished.status).toBe("succeeded")
      expect(finished.state.digest).toEqual({ rows: count, sha256: expected(count) })
      // The record holds a reference to the 20 MB slot, never the rows: a list stored in segments,
      // whose own blob (the segments' references) is small.
      const slot = finished.state.rows
      expect(isBlobRef(slot)).toBe(true)
      expect(slot).toMatchObject({ mediaType: listMediaType, length: count })
      expect((slot as { size: number }).size).toBeLessThan(threshold)
      yield* Effect.promise(() => nc.flush())
      expect(largest.bytes, `largest message, on ${largest.subject}`).toBeLessThanOrEqual(threshold)
      // The watch saw the blobs' own chunks go by, so it saw everything else too.
      expect(largest.subject).toMatch(/^\$O\./)
      expect(largest.bytes).toBeGreaterThan(threshold / 2)
    }).pipe(Effect.scoped, Effect.provide(Layer.orDie(NatsBus.layer({ url: inject("natsUrl") }))))
  )
})
