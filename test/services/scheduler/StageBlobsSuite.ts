/**
 * `ctx.blobs`: a stage stores a big binary file in the run's blob store and
 * passes the reference on; the next stage receives the reference as it is
 * (only JSON references are replaced by their values) and reads the file
 * through `ctx.blobs`, whole or as a stream. A template whose path crosses a
 * stored value, taken whole or interpolated into text, gives the stage the
 * value at that path. Run once per bus adapter.
 */
import { createHash, randomBytes } from "node:crypto"
import { describe, expect, it } from "@effect/vitest"
import { Effect, Layer, Schema } from "effect"
import type { Scope } from "effect"
import type { Bus } from "../../../services/bus/Bus.ts"
import { BlobRef, isBlobRef } from "../../../schemas/Blob.ts"
import { defineStage } from "../../../sdk/defineStage.ts"
import { makeStack } from "./harness.ts"

const file = randomBytes(3 * 1024 * 1024)
const sha256 = (bytes: Uint8Array) => createHash("sha256").update(bytes).digest("hex")

const store = defineStage({
  type: "test.store",
  version: "1.0.0",
  description: "Stores a file.",
  plugin: "test",
  stateKey: "file",
  output: "set",
  count: "one",
  inputs: Schema.Struct({ chunked: Schema.Boolean }),
  outputs: BlobRef,
  run: async ({ chunked }, ctx) => {
    async function* chunks() {
      for (let at = 0; at < file.length; at += 100_000) yield file.subarray(at, at + 100_000)
    }
    return ctx.blobs!.put(chunked ? chunks() : file, { mediaType: "application/pdf" })
  }
})

const read = defineStage({
  type: "test.read",
  version: "1.0.0",
  description: "Reads a file.",
  plugin: "test",
  stateKey: "read",
  output: "set",
  count: "one",
  inputs: Schema.Struct({ file: BlobRef }),
  outputs: Schema.Struct({ whole: Schema.String, streamed: Schema.String }),
  run: async ({ file }, ctx) => {
    const whole = await ctx.blobs!.get(file)
    const hash = createHash("sha256")
    for await (const chunk of ctx.blobs!.stream(file)) hash.update(chunk)
    return { whole: sha256(whole), streamed: hash.digest("hex") }
  }
})

/** A catalogue of 3,000 titled documents (about 250 KiB: stored, as a list in segments). */
const catalogue = defineStage({
  type: "test.catalogue",
  version: "1.0.0",
  description: "Lists documents.",
  plugin: "test",
  stateKey: "catalogue",
  output: "set",
  count: "one",
  inputs: Schema.Struct({}),
  outputs: Schema.Struct({ docs: Schema.Array(Schema.Struct({ title: Schema.String, body: Schema.String })) }),
  run: () => Promise.resolve({ docs: Array.from({ length: 3000 }, (_, index) => ({ title: `document ${index}`, body: "x".repeat(64) })) })
})

const echo = defineStage({
  type: "test.echo",
  version: "1.0.0",
  description: "Echoes its inputs.",
  plugin: "test",
  stateKey: "echo",
  output: "set",
  count: "one",
  inputs: Schema.Struct({ title: Schema.NullOr(Schema.String), line: Schema.String, doc: Schema.Unknown, missing: Schema.Unknown }),
  outputs: Schema.Unknown,
  run: (inputs) => Promise.resolve(inputs)
})

export const stageBlobsSuite = (name: string, makeBus: () => Layer.Layer<Bus, unknown>) =>
  describe(`ctx.blobs over ${name}`, () => {
    const run = <A, E>(effect: Effect.Effect<A, E, Bus | Scope.Scope>) => effect.pipe(Effect.scoped, Effect.provide(Layer.orDie(makeBus())))

    for (const chunked of [false, true]) {
      it.live(`passes a ${chunked ? "streamed" : "whole"} binary file from one stage to the next by reference`, () =>
        run(
          Effect.gen(function* () {
            const stack = yield* makeStack("ctxblobs")
            yield* stack.registry
            yield* stack.executor({ pool: "test", definitions: [store, read] })
            yield* stack.scheduler()
            yield* stack.registered(["test.store", "test.read"])
            const reply = yield* stack.submit(`
name: file
stages:
  - { name: store, type: test.store, inputs: { chunked: ${chunked} } }
  - { name: read, type: test.read, depends_on: [store], inputs: { file: "{{ state.file }}" } }
`)
            const { finished } = yield* stack.finished(reply.runId!, "60 seconds")
            expect(finished.status).toBe("succeeded")
            expect(finished.state.file).toEqual({ $blob: `sha256:${sha256(file)}`, size: file.length, mediaType: "application/pdf" })
            expect(finished.state.read).toEqual({ whole: sha256(file), streamed: sha256(file) })
          })
        )
      )
    }

    it.live("a template path into a stored value gives the value at that path, whole or in text", () =>
      run(
        Effect.gen(function* () {
          const stack = yield* makeStack("blobpaths")
          yield* stack.registry
          yield* stack.executor({ pool: "test", definitions: [catalogue, echo] })
          yield* stack.scheduler()
          yield* stack.registered(["test.catalogue", "test.echo"])
          const reply = yield* stack.submit(`
name: paths
stages:
  - { name: catalogue, type: test.catalogue }
  - name: echo
    type: test.echo
    depends_on: [catalogue]
    inputs:
      title: "{{ state.catalogue.docs.2999.title }}"
      line: "first {{ state.catalogue.docs.0.title }}, then {{ state.catalogue.docs.1 }}"
      doc: "{{ state.catalogue.docs.1500 }}"
      missing: "{{ state.catalogue.docs.1500.nothing }}"
`)
          const { finished } = yield* stack.finished(reply.runId!, "60 seconds")
          expect(finished.status).toBe("succeeded")
          // The catalogue itself is stored: the paths above cross a reference.
          expect(isBlobRef(finished.state.catalogue) || isBlobRef((finished.state.catalogue as { docs: unknown }).docs)).toBe(true)
          expect(finished.state.echo).toEqual({
            title: "document 2999",
            line: `first document 0, then ${JSON.stringify({ title: "document 1", body: "x".repeat(64) })}`,
            doc: { title: "document 1500", body: "x".repeat(64) },
            missing: null
          })
        })
      )
    )
  })
