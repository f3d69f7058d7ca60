/**
 * How the scheduler takes a `for_each` list: a stored list whose items the
 * stage passes on whole is never read (each task gets a reference to its
 * part); a stage that reaches into its items gets them read back.
 */
import { describe, expect, it } from "@effect/vitest"
import { Effect, Schema } from "effect"
import { Pipeline } from "../../../../schemas/Pipeline.ts"
import { elementRef, sliceRef, type BlobRef } from "../../../../schemas/Blob.ts"
import { BlobStore } from "../../../../services/bus/BlobStore.ts"
import * as MemoryBlobStore from "../../../../services/bus/MemoryBlobStore.ts"
import { storeJson } from "../../../../services/bus/BlobJson.ts"
import * as MemoryBus from "../../../../services/bus/MemoryBus.ts"
import { Bus } from "../../../../services/bus/Bus.ts"
import * as RunActor from "../../../../services/scheduler/RunActor.ts"
import { makeFanOut } from "../../../../services/scheduler/internal/fanOut.ts"
import { stage } from "../fixtures.ts"

const paths = Array.from({ length: 40 }, (_, index) => ({ path: `/corpus/${index}.md` }))

/** A run whose `read` stage maps over `state.files` with the given inputs, the slot holding `files`. */
const runOver = (files: Schema.Json, inputs: object, batch = 1) => {
  const read = stage({ type: "test.read", stateKey: "texts", output: "set", count: "length" })
  const pipeline = Schema.decodeUnknownSync(Pipeline)({
    name: "t",
    stages: [{ name: "read", type: "test.read", for_each: "{{ state.files }}", batch, inputs }]
  })
  const run = RunActor.newRun({
    runId: "r1",
    file: "t.yaml",
    pipeline,
    stages: new Map([["read", read]]),
    inputs: {},
    now: 0
  })
  return { ...run, state: { files } }
}

/** The fan-out over a memory bus's items bucket and a store that counts its reads. */
const fanOutWith = (store: BlobStore["Service"]) =>
  Effect.gen(function* () {
    const bus = yield* Bus
    return makeFanOut({ items: yield* bus.kv("items"), blobs: store, threshold: 64 * 1024 })
  }).pipe(Effect.provide(MemoryBus.layer))

const countingStore = () => {
  const store = MemoryBlobStore.make()
  let reads = 0
  return { store: { ...store, get: (ref: BlobRef) => Effect.tap(store.get(ref), () => Effect.sync(() => reads++)) }, reads: () => reads }
}

describe("the list of a for_each stage", () => {
  it.effect("a stored list the stage takes whole is not read: each task gets a reference to its part", () =>
    Effect.gen(function* () {
      const { reads, store } = countingStore()
      const ref = yield* storeJson(paths).pipe(Effect.provideService(BlobStore, store))
      const fanOut = yield* fanOutWith(store)
      const batched = yield* fanOut.load(runOver(ref, { files: "{{ items }}" }, 8), "read")
      expect(batched.length).toBe(40)
      expect(batched.slice(8, 16)).toEqual({ items: sliceRef(ref, 8, 16), item: elementRef(ref, 8) })
      const single = yield* fanOut.load(runOver(ref, { file: "{{ item }}", note: "plain text" }), "read")
      expect(single.slice(3, 4).item).toEqual(elementRef(ref, 3))
      expect(reads()).toBe(0)
    })
  )

  it.effect("a stage that reaches into its items, or puts them in text, has the stored list read back", () =>
    Effect.gen(function* () {
      const { reads, store } = countingStore()
      const ref = yield* storeJson(paths).pipe(Effect.provideService(BlobStore, store))
      const fanOut = yield* fanOutWith(store)
      const byField = yield* fanOut.load(runOver(ref, { path: "{{ item.path }}" }), "read")
      expect(byField.slice(5, 6)).toEqual({ items: [paths[5]], item: paths[5] })
      const inText = yield* fanOut.load(runOver(ref, { label: "files: {{ items }}" }, 4), "read")
      expect(inText.slice(0, 4).items).toEqual(paths.slice(0, 4))
      expect(reads()).toBe(2)
    })
  )

  it.effect("a list held in the run is sliced as it is", () =>
    Effect.gen(function* () {
      const fanOut = yield* fanOutWith(MemoryBlobStore.make())
      const loaded = yield* fanOut.load(runOver(paths, { files: "{{ items }}" }, 16), "read")
      expect(loaded.length).toBe(40)
      expect(loaded.slice(32, 48)).toEqual({ items: paths.slice(32), item: paths[32] })
    })
  )
})
