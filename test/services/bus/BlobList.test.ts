/**
 * Lists stored in segments: `externalize` cuts a long list into segments,
 * `resolve` reads a whole list, a slice or an element fetching only the
 * segments that hold it, a path reference reads the value at its path, and
 * the list writer builds one list from inline
 * values, stored lists and stored segments in order.
 */
import { assert, describe, it } from "@effect/vitest"
import { Deferred, Effect, Fiber } from "effect"
import { BlobStore } from "../../../services/bus/BlobStore.ts"
import { BlobCorruptError, BlobMissingError } from "../../../services/bus/BlobError.ts"
import { externalize, resolve, storeJson } from "../../../services/bus/BlobJson.ts"
import { makeListWriter, segmentBytes } from "../../../services/bus/BlobList.ts"
import * as MemoryBlobStore from "../../../services/bus/MemoryBlobStore.ts"
import { type BlobRef, elementRef, isBlobRef, jsonMediaType, listMediaType, pathRef, sliceRef } from "../../../schemas/Blob.ts"

const threshold = 64 * 1024
const encoder = new TextEncoder()
const decoder = new TextDecoder()

/** A memory store that notes the blobs read from it and how many puts it had. */
const countingStore = () => {
  const store = MemoryBlobStore.make()
  const reads: Array<string> = []
  let puts = 0
  const counted: BlobStore["Service"] = {
    ...store,
    // Reads take a turn of the scheduler, as a real store's do, so readers at once overlap.
    get: (ref) =>
      Effect.yieldNow.pipe(
        Effect.andThen(store.get(ref)),
        Effect.tap(() => Effect.sync(() => reads.push(ref.$blob)))
      ),
    put: (bytes, options) => Effect.tap(store.put(bytes, options), () => Effect.sync(() => puts++))
  }
  return { store: counted, reads, puts: () => puts }
}

/** `count` rows of about 100 bytes of JSON each. */
const rows = (count: number, from = 0) =>
  Array.from({ length: count }, (_, index) => `row ${String(from + index).padStart(8, "0")} ${"x".repeat(80)}`)

const segmentsOf = (store: BlobStore["Service"], ref: BlobRef) =>
  Effect.map(store.get(ref), (bytes) => JSON.parse(decoder.decode(bytes)) as Array<BlobRef>)

describe("lists stored in segments", () => {
  it.effect("externalize stores a list past the segment size as segments of about that size, and resolve reads it back whole", () =>
    Effect.gen(function* () {
      const { store } = countingStore()
      const list = rows(10_000)
      const ref = yield* externalize(list, threshold).pipe(Effect.provideService(BlobStore, store))
      assert.isTrue(isBlobRef(ref))
      assert.deepInclude(ref, { mediaType: listMediaType, length: list.length })
      const segments = yield* segmentsOf(store, ref as BlobRef)
      assert.isAbove(segments.length, 2)
      for (const segment of segments) {
        assert.strictEqual(segment.mediaType, jsonMediaType)
        assert.isAtMost(segment.size, segmentBytes + 200)
      }
      assert.strictEqual(
        segments.reduce((sum, segment) => sum + segment.length!, 0),
        list.length
      )
      assert.deepStrictEqual(yield* resolve({ rows: ref }).pipe(Effect.provideService(BlobStore, store)), { rows: list })
    })
  )

  it.effect("a list between the threshold and the segment size stays one JSON blob", () =>
    Effect.gen(function* () {
      const store = MemoryBlobStore.make()
      const ref = yield* externalize(rows(1000), threshold).pipe(Effect.provideService(BlobStore, store))
      assert.deepInclude(ref as BlobRef, { mediaType: jsonMediaType, length: 1000 })
    })
  )

  it.effect("a slice or an element of a stored list is read from the segments that hold it alone", () =>
    Effect.gen(function* () {
      const { reads, store } = countingStore()
      const list = rows(10_000)
      const ref = (yield* externalize(list, threshold).pipe(Effect.provideService(BlobStore, store))) as BlobRef
      const segments = yield* segmentsOf(store, ref)
      const boundary = segments[0]!.length!
      reads.length = 0
      // Across the first boundary: the list blob and the two segments either side of it.
      const slice = yield* resolve(sliceRef(ref, boundary - 5, boundary + 5)).pipe(Effect.provideService(BlobStore, store))
      assert.deepStrictEqual(slice, list.slice(boundary - 5, boundary + 5))
      assert.deepStrictEqual(reads.sort(), [ref.$blob, segments[0]!.$blob, segments[1]!.$blob].sort())
      reads.length = 0
      const element = yield* resolve({ item: elementRef(ref, list.length - 1) }).pipe(Effect.provideService(BlobStore, store))
      assert.deepStrictEqual(element, { item: list.at(-1) })
      assert.deepStrictEqual(reads.sort(), [ref.$blob, segments.at(-1)!.$blob].sort())
    })
  )

  it.effect("readers sharing a cache read each blob once, even when they want it at the same time", () =>
    Effect.gen(function* () {
      const { reads, store } = countingStore()
      const list = rows(10_000)
      const ref = (yield* externalize(list, threshold).pipe(Effect.provideService(BlobStore, store))) as BlobRef
      const segments = yield* segmentsOf(store, ref)
      reads.length = 0
      const cache = new Map<string, unknown>()
      // Twenty tasks' parts either side of the first segment boundary, read at once.
      const from = segments[0]!.length! - 500
      const parts = yield* Effect.forEach(
        Array.from({ length: 20 }, (_, index) => from + index * 50),
        (start) => resolve(sliceRef(ref, start, start + 50), { cache }).pipe(Effect.provideService(BlobStore, store)),
        { concurrency: "unbounded" }
      )
      assert.deepStrictEqual(parts.flat(), list.slice(from, from + 1000))
      assert.deepStrictEqual(reads.sort(), [ref.$blob, segments[0]!.$blob, segments[1]!.$blob].sort())
    })
  )

  it.effect("a reader interrupted while it reads does not take the read from the readers waiting for it", () =>
    Effect.gen(function* () {
      const store = MemoryBlobStore.make()
      const list = rows(10_000)
      const ref = (yield* externalize(list, threshold).pipe(Effect.provideService(BlobStore, store))) as BlobRef
      const gate = yield* Deferred.make<void>()
      const gated: BlobStore["Service"] = { ...store, get: (blob) => Deferred.await(gate).pipe(Effect.andThen(store.get(blob))) }
      const cache = new Map<string, unknown>()
      const read = resolve(elementRef(ref, 7), { cache }).pipe(Effect.provideService(BlobStore, gated))
      const first = yield* Effect.forkChild(read)
      const second = yield* Effect.forkChild(read)
      yield* Effect.yieldNow
      yield* Fiber.interrupt(first)
      yield* Deferred.succeed(gate, undefined)
      assert.strictEqual(yield* Fiber.join(second), list[7])
    })
  )

  it.effect("a failed read is not remembered: the next reader tries again", () =>
    Effect.gen(function* () {
      const store = MemoryBlobStore.make()
      const ref = (yield* externalize(rows(10_000), threshold).pipe(Effect.provideService(BlobStore, store))) as BlobRef
      const cache = new Map<string, unknown>()
      let failing = true
      const flaky: BlobStore["Service"] = {
        ...store,
        get: (blob) => (failing ? Effect.fail(new BlobMissingError({ blob: blob.$blob, store: store.location })) : store.get(blob))
      }
      const read = resolve(elementRef(ref, 3), { cache }).pipe(Effect.provideService(BlobStore, flaky))
      assert.instanceOf(yield* Effect.flip(read), BlobMissingError)
      failing = false
      assert.strictEqual(yield* read, rows(4)[3])
    })
  )

  it.effect("slices and elements of a list stored as one JSON blob", () =>
    Effect.gen(function* () {
      const store = MemoryBlobStore.make()
      const list = rows(1000)
      const ref = (yield* externalize(list, threshold).pipe(Effect.provideService(BlobStore, store))) as BlobRef
      const read = yield* resolve([sliceRef(ref, 10, 20), elementRef(ref, 999)]).pipe(Effect.provideService(BlobStore, store))
      assert.deepStrictEqual(read, [list.slice(10, 20), list[999]])
    })
  )

  it.effect("a path reference reads the value at its path, through the references on the way, fetching one segment of a list", () =>
    Effect.gen(function* () {
      const { reads, store } = countingStore()
      const docs = Array.from({ length: 3000 }, (_, index) => ({ title: `document ${index}`, body: "x".repeat(80) }))
      // The object's large list is stored first, then the object (with its reference) on its own.
      const inner = (yield* externalize({ docs }, threshold).pipe(Effect.provideService(BlobStore, store))) as { docs: BlobRef }
      assert.isTrue(isBlobRef(inner.docs))
      const outer = yield* storeJson({ catalogue: inner, padding: "y".repeat(threshold) }).pipe(Effect.provideService(BlobStore, store))
      reads.length = 0
      const read = yield* resolve({
        title: pathRef(outer, ["catalogue", "docs", "2999", "title"]),
        text: { $text: ["last: ", pathRef(outer, ["catalogue", "docs", "2999", "title"]), "."] },
        missing: pathRef(outer, ["catalogue", "nothing", "deeper"])
      }).pipe(Effect.provideService(BlobStore, store))
      assert.deepStrictEqual(read, { title: "document 2999", text: "last: document 2999.", missing: null })
      // The outer object, the list blob and the one segment holding element 2999: not the other segments.
      const distinct = new Set(reads)
      assert.strictEqual(distinct.size, 3)
      assert.isTrue(distinct.has(outer.$blob) && distinct.has(inner.docs.$blob))
    })
  )

  it.effect("the list writer concatenates inline values, stored lists and stored segments in order", () =>
    Effect.gen(function* () {
      const store = MemoryBlobStore.make()
      const provide = Effect.provideService(BlobStore, store)
      const first = rows(3000, 0)
      const stored = rows(5000, 3000)
      const segmentList = rows(700, 8000)
      const tail = rows(10, 8700)
      const storedRef = yield* provide(externalize(stored, threshold))
      const segmentRef = yield* provide(externalize(segmentList, threshold))
      assert.deepInclude(storedRef as BlobRef, { mediaType: listMediaType })
      assert.deepInclude(segmentRef as BlobRef, { mediaType: jsonMediaType })
      const writer = makeListWriter(store, threshold, new Map())
      yield* writer.add(first)
      yield* writer.add(storedRef)
      yield* writer.add(undefined)
      yield* writer.add(segmentRef)
      yield* writer.add(tail[0])
      yield* writer.add(tail.slice(1))
      const list = yield* writer.finish
      assert.deepInclude(list as BlobRef, { mediaType: listMediaType, length: 8710 })
      assert.deepStrictEqual(yield* provide(resolve(list)), [...first, ...stored, ...segmentList, ...tail])
    })
  )

  it.effect("the list writer gives a short list inline and stores nothing", () =>
    Effect.gen(function* () {
      const { puts, store } = countingStore()
      const writer = makeListWriter(store, threshold, new Map())
      yield* writer.add([1, 2])
      yield* writer.add(3)
      assert.deepStrictEqual(yield* writer.finish, [1, 2, 3])
      assert.strictEqual(puts(), 0)
    })
  )

  it.effect("a list blob that does not hold segment references is a corrupt blob naming it", () =>
    Effect.gen(function* () {
      const store = MemoryBlobStore.make()
      const bad = yield* store.put(encoder.encode(JSON.stringify({ not: "segments" })), { mediaType: listMediaType, length: 3 })
      const error = yield* Effect.flip(resolve({ rows: bad }).pipe(Effect.provideService(BlobStore, store)))
      assert.instanceOf(error, BlobCorruptError)
      assert.strictEqual((error as BlobCorruptError).check, "list")
      assert.include(error.message, bad.$blob)
    })
  )
})
