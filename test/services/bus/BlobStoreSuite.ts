/**
 * The conformance suite of the blob store port. Every adapter runs it (the
 * memory store, the folder store in a temporary directory, the NATS store
 * against a real nats-server) so that all keep the same contract: content
 * addressing by SHA-256, the first media type kept, reads checked against
 * the reference, streaming without holding a blob whole, concurrent puts of
 * the same content stored once, errors that name the reference and the
 * store, and a listing for garbage collection that shows what is stored and
 * nothing of unfinished or failed puts. Each test gets a store of its own.
 */
import { createHash, randomBytes } from "node:crypto"
import { assert, describe, it } from "@effect/vitest"
import { Clock, Deferred, Effect, Fiber, Option, type Scope, Stream } from "effect"
import type { BlobRef } from "@switchyard/schemas/Blob"
import type { BlobEntry, BlobStore } from "../../../services/bus/BlobStore.ts"
import type { BlobError } from "../../../services/bus/BlobError.ts"
import { eventually } from "../../support/eventually.ts"

/** A store under test and what the adapter's test file can do behind its back. */
export interface BlobStoreHarness {
  readonly store: BlobStore["Service"]
  /** A part of `store.location` that only this store has (its bucket name, its folder). */
  readonly where: string
  /** Replaces the stored bytes of `ref` with `tampered(ref.size)`, behind the store's back. */
  readonly corrupt: (ref: BlobRef) => Effect.Effect<void, unknown>
  /** How many stored pieces no listed blob accounts for: orphaned chunks, live temporary objects or files. */
  readonly leftovers: Effect.Effect<number, unknown>
  /** Leaves behind what a putStream whose process died before it finished would (adapters that write temporaries). */
  readonly abandonTemporary?: Effect.Effect<void, unknown>
}

/** Options of `blobStoreSuite`. */
export interface BlobStoreSuiteOptions {
  /** The adapter writes temporaries that a dead process can leave behind: the harness has `abandonTemporary`. */
  readonly writesTemporaries?: boolean
}

/** Bytes of `size` that differ from the random content the suite stores. */
export const tampered = (size: number): Uint8Array => new Uint8Array(size).fill(0x5a)

const random = (size: number): Uint8Array => new Uint8Array(randomBytes(size))

const sha256 = (bytes: Uint8Array): string => `sha256:${createHash("sha256").update(bytes).digest("hex")}`

const sameBytes = (actual: Uint8Array, expected: Uint8Array): boolean => Buffer.from(actual).equals(Buffer.from(expected))

/** `bytes` cut into chunks of `size` (the last one shorter). */
const chunked = (bytes: Uint8Array, size: number): Array<Uint8Array> => {
  const chunks: Array<Uint8Array> = []
  for (let offset = 0; offset < bytes.length; offset += size) chunks.push(bytes.subarray(offset, offset + size))
  return chunks
}

/** What `list` reports of a reference: the same without `length`. */
const listed = (ref: BlobRef): BlobRef => ({ $blob: ref.$blob, size: ref.size, mediaType: ref.mediaType })

const byDigest = (entries: ReadonlyArray<BlobEntry>): Array<BlobEntry> =>
  [...entries].sort((a, b) => a.ref.$blob.localeCompare(b.ref.$blob))

// File systems stamp times from a coarse clock that may lag the process clock by a tick.
const clockSlackMs = 1_000

/** Asserts that a failure is `tag` and names the reference's `$blob` and the store's location. */
const assertNames = (error: BlobError, tag: BlobError["_tag"], blob: string, store: BlobStore["Service"]) => {
  assert.strictEqual(error._tag, tag, `expected ${tag}, got ${error._tag}: ${error.message}`)
  assert.strictEqual(error.blob, blob)
  assert.strictEqual(error.store, store.location)
  assert.include(error.message, blob)
  assert.include(error.message, store.location)
}

/** Runs the conformance suite against the stores `makeHarness` builds (a fresh one per test). */
export const blobStoreSuite = (
  name: string,
  makeHarness: Effect.Effect<BlobStoreHarness, unknown, Scope.Scope>,
  options: BlobStoreSuiteOptions = {}
): void => {
  const test = (title: string, body: (harness: BlobStoreHarness) => Effect.Effect<void, unknown, Scope.Scope>) =>
    it.live(title, () => Effect.scoped(Effect.flatMap(makeHarness, body)))

  describe(`${name} blob store`, () => {
    test("names its own location", ({ store, where }) =>
      Effect.sync(() => {
        assert.include(store.location, where)
      }))

    test("returns the bytes it was given under a sha256 reference with their size, media type and length", ({ store }) =>
      Effect.gen(function* () {
        const bytes = random(10_000)
        const ref = yield* store.put(bytes, { mediaType: "application/json", length: 3 })
        assert.deepStrictEqual(ref, { $blob: sha256(bytes), size: 10_000, mediaType: "application/json", length: 3 })
        assert.match(ref.$blob, /^sha256:[0-9a-f]{64}$/u)
        assert.isTrue(sameBytes(yield* store.get(ref), bytes))
        const plain = yield* store.put(random(10), { mediaType: "text/plain" })
        assert.notProperty(plain, "length")
      }))

    test("keeps its own copy, out of reach of the caller's arrays", ({ store }) =>
      Effect.gen(function* () {
        const bytes = random(1_000)
        const original = bytes.slice()
        const ref = yield* store.put(bytes, { mediaType: "application/octet-stream" })
        bytes.fill(0)
        const read = yield* store.get(ref)
        read.fill(1)
        assert.isTrue(sameBytes(yield* store.get(ref), original))
      }))

    test("stores the same content once, with the same reference, and keeps the media type of its first put", ({ store }) =>
      Effect.gen(function* () {
        const bytes = random(5_000)
        const first = yield* store.put(bytes, { mediaType: "text/csv" })
        assert.deepStrictEqual(yield* store.put(bytes, { mediaType: "text/csv" }), first)
        const again = yield* store.put(bytes, { mediaType: "application/octet-stream" })
        assert.strictEqual(again.$blob, first.$blob)
        assert.strictEqual(again.size, first.size)
        const streamed = yield* store.putStream(Stream.fromIterable(chunked(bytes, 999)), { mediaType: "text/plain" })
        assert.strictEqual(streamed.$blob, first.$blob)
        assert.deepStrictEqual(yield* store.stat(first), Option.some({ size: 5_000, mediaType: "text/csv" }))
        const entries = yield* Stream.runCollect(store.list)
        assert.deepStrictEqual(
          entries.map((entry) => entry.ref),
          [listed(first)]
        )
      }))

    test("stats a stored blob with its size and media type, and an absent one as none", ({ store }) =>
      Effect.gen(function* () {
        const ref = yield* store.put(random(321), { mediaType: "image/png" })
        assert.deepStrictEqual(yield* store.stat(ref), Option.some({ size: 321, mediaType: "image/png" }))
        const absent = { $blob: sha256(random(16)), size: 16, mediaType: "image/png" }
        assert.deepStrictEqual(yield* store.stat(absent), Option.none())
      }))

    test("deletes a blob, deletes a missing one without complaint, and then fails its reads with BlobMissingError", ({ store }) =>
      Effect.gen(function* () {
        const kept = yield* store.put(random(100), { mediaType: "text/plain" })
        const ref = yield* store.put(random(200_000), { mediaType: "text/plain" })
        yield* store.delete(ref)
        yield* store.delete(ref)
        yield* store.delete({ $blob: sha256(random(8)), size: 8, mediaType: "text/plain" })
        assert.deepStrictEqual(yield* store.stat(ref), Option.none())
        assertNames(yield* Effect.flip(store.get(ref)), "BlobMissingError", ref.$blob, store)
        assertNames(yield* Effect.flip(Stream.runCollect(store.stream(ref))), "BlobMissingError", ref.$blob, store)
        assert.strictEqual((yield* store.get(kept)).length, 100)
        // A deleted blob can be stored again.
        const bytes = random(50)
        const back = yield* store.put(bytes, { mediaType: "text/plain" })
        yield* store.delete(back)
        assert.deepStrictEqual(yield* store.put(bytes, { mediaType: "text/plain" }), back)
        assert.isTrue(sameBytes(yield* store.get(back), bytes))
      }))

    test("fails get and stream of a blob it never had with BlobMissingError naming the reference and the store", ({ store }) =>
      Effect.gen(function* () {
        const ref = { $blob: sha256(random(64)), size: 64, mediaType: "application/json" }
        assertNames(yield* Effect.flip(store.get(ref)), "BlobMissingError", ref.$blob, store)
        assertNames(yield* Effect.flip(Stream.runCollect(store.stream(ref))), "BlobMissingError", ref.$blob, store)
      }))

    test("round-trips 8 MB streamed in odd-sized chunks and streams it back in several chunks, none of them whole", ({
      store,
      leftovers
    }) =>
      Effect.gen(function* () {
        const bytes = random(8 * 1024 * 1024)
        const source = Stream.fromIterable(chunked(bytes, 100_003))
        const ref = yield* store.putStream(source, { mediaType: "application/octet-stream" })
        assert.deepStrictEqual(ref, { $blob: sha256(bytes), size: bytes.length, mediaType: "application/octet-stream" })
        const chunks = yield* Stream.runCollect(store.stream(ref))
        assert.isAbove(chunks.length, 1)
        assert.isBelow(Math.max(...chunks.map((chunk) => chunk.length)), bytes.length)
        assert.isTrue(sameBytes(Buffer.concat(chunks), bytes))
        assert.isTrue(sameBytes(yield* store.get(ref), bytes))
        // Streaming in content that is already there stores nothing more.
        assert.deepStrictEqual(yield* store.putStream(source, { mediaType: "application/octet-stream" }), ref)
        assert.deepStrictEqual(
          (yield* Stream.runCollect(store.list)).map((entry) => entry.ref),
          [listed(ref)]
        )
        assert.strictEqual(yield* leftovers, 0, "pieces left over")
      }))

    test("fails a putStream with its source's error and keeps nothing of it", ({ store, leftovers }) =>
      Effect.gen(function* () {
        const source = Stream.fromIterable(chunked(random(300_000), 70_000)).pipe(Stream.concat(Stream.fail("source broke" as const)))
        const error = yield* Effect.flip(store.putStream(source, { mediaType: "text/plain" }))
        assert.strictEqual(error, "source broke")
        assert.deepStrictEqual(yield* Stream.runCollect(store.list), [])
        assert.strictEqual(yield* leftovers, 0, "pieces left over")
      }))

    test("fails get and stream of a blob whose stored bytes changed with BlobCorruptError naming the reference and the store", ({
      store,
      corrupt
    }) =>
      Effect.gen(function* () {
        const ref = yield* store.put(random(300_000), { mediaType: "application/octet-stream" })
        yield* corrupt(ref)
        const fromGet = yield* Effect.flip(store.get(ref))
        assertNames(fromGet, "BlobCorruptError", ref.$blob, store)
        assert.strictEqual(fromGet._tag === "BlobCorruptError" && fromGet.check, "digest")
        const fromStream = yield* Effect.flip(Stream.runCollect(store.stream(ref)))
        assertNames(fromStream, "BlobCorruptError", ref.$blob, store)
      }))

    test("fails reads through a reference of the wrong size with BlobCorruptError", ({ store }) =>
      Effect.gen(function* () {
        const ref = yield* store.put(random(150_000), { mediaType: "application/octet-stream" })
        for (const size of [ref.size - 1, ref.size + 1, 0]) {
          const wrong = { ...ref, size }
          const fromGet = yield* Effect.flip(store.get(wrong))
          assertNames(fromGet, "BlobCorruptError", ref.$blob, store)
          assert.strictEqual(fromGet._tag === "BlobCorruptError" && fromGet.check, "size", `size ${size}`)
          assertNames(yield* Effect.flip(Stream.runCollect(store.stream(wrong))), "BlobCorruptError", ref.$blob, store)
        }
      }))

    test("stores eight concurrent puts of the same content once, all under the same reference", ({ store, leftovers }) =>
      Effect.gen(function* () {
        const bytes = random(300_000)
        const refs = yield* Effect.all(
          Array.from({ length: 8 }, () => store.put(bytes, { mediaType: "application/octet-stream" })),
          { concurrency: "unbounded" }
        )
        for (const ref of refs) assert.deepStrictEqual(ref, refs[0])
        assert.isTrue(sameBytes(yield* store.get(refs[0]!), bytes))
        assert.deepStrictEqual(
          (yield* Stream.runCollect(store.list)).map((entry) => entry.ref),
          [listed(refs[0]!)]
        )
        assert.strictEqual(yield* leftovers, 0, "pieces left over")
      }))

    test("rejects a reference whose digest is not sha256 and 64 lowercase hex digits with InvalidBlobRefError", ({ store }) =>
      Effect.gen(function* () {
        const hex = sha256(random(8)).slice("sha256:".length)
        for (const blob of ["sha256:xyz", `sha256:${hex.toUpperCase()}`, `md5:${hex}`, `sha256:${hex}0`, "", `sha256:../${hex.slice(3)}`]) {
          const ref = { $blob: blob, size: 8, mediaType: "text/plain" }
          for (const [operation, failure] of [
            ["get", Effect.flip(store.get(ref))],
            ["stream", Effect.flip(Stream.runCollect(store.stream(ref)))],
            ["stat", Effect.flip(store.stat(ref))],
            ["delete", Effect.flip(store.delete(ref))]
          ] as const) {
            const error = yield* failure
            assert.strictEqual(error._tag, "InvalidBlobRefError", `${operation} of ${JSON.stringify(blob)}: ${error.message}`)
            assert.strictEqual(error.blob, blob)
            assert.strictEqual(error.store, store.location)
            assert.include(error.message, JSON.stringify(blob))
            assert.include(error.message, store.location)
          }
        }
      }))

    describe("list", () => {
      test("lists nothing in a new store", ({ store }) =>
        Effect.gen(function* () {
          assert.deepStrictEqual(yield* Stream.runCollect(store.list), [])
        }))

      test("lists every stored blob with its reference and the time it was stored, and none deleted", ({ store }) =>
        Effect.gen(function* () {
          const before = yield* Clock.currentTimeMillis
          const json = yield* store.put(random(2_000), { mediaType: "application/json", length: 2 })
          const gone = yield* store.put(random(3_000), { mediaType: "text/plain" })
          const streamed = yield* store.putStream(Stream.fromIterable(chunked(random(200_000), 30_000)), { mediaType: "image/png" })
          const empty = yield* store.put(new Uint8Array(0), { mediaType: "text/plain" })
          yield* store.delete(gone)
          const after = yield* Clock.currentTimeMillis
          const entries = byDigest(yield* Stream.runCollect(store.list))
          assert.deepStrictEqual(
            entries.map((entry) => entry.ref),
            [json, streamed, empty].map(listed).sort((a, b) => a.$blob.localeCompare(b.$blob))
          )
          for (const entry of entries) {
            assert.isAtLeast(entry.storedAt, before - clockSlackMs, `${entry.ref.$blob} stored before the test began`)
            assert.isAtMost(entry.storedAt, after + clockSlackMs, `${entry.ref.$blob} stored after the test ended`)
          }
        }))

      test("a later put of the same content moves its storedAt on, and leaves the blob as it was", ({ store }) =>
        Effect.gen(function* () {
          const bytes = random(100_000)
          const first = yield* store.put(bytes, { mediaType: "image/png" })
          const [stored] = yield* Stream.runCollect(store.list)
          // Past the coarsest clock a store may keep (file times), the second put is a later time.
          yield* eventually("the clock passes the first put by the slack", () => Date.now() > stored!.storedAt + clockSlackMs + 50)
          const before = yield* Clock.currentTimeMillis
          const again = yield* store.put(bytes, { mediaType: "text/plain" })
          const [restored] = yield* Stream.runCollect(store.list)
          assert.strictEqual(again.$blob, first.$blob)
          assert.isAtLeast(restored!.storedAt, before - clockSlackMs)
          assert.isAbove(restored!.storedAt, stored!.storedAt)
          assert.deepStrictEqual(restored!.ref, stored!.ref)
          assert.deepStrictEqual(yield* store.get(first), bytes)
          assert.deepStrictEqual(
            Option.map(yield* store.stat(first), (stat) => stat.mediaType),
            Option.some("image/png")
          )
        }))

      test("lists each run afresh", ({ store }) =>
        Effect.gen(function* () {
          const listing = store.list
          const first = yield* store.put(random(10), { mediaType: "text/plain" })
          assert.strictEqual((yield* Stream.runCollect(listing)).length, 1)
          yield* store.put(random(10), { mediaType: "text/plain" })
          assert.strictEqual((yield* Stream.runCollect(listing)).length, 2)
          yield* store.delete(first)
          assert.strictEqual((yield* Stream.runCollect(listing)).length, 1)
        }))

      test("does not list a putStream that has not finished, then lists it once it has", ({ store }) =>
        Effect.gen(function* () {
          const stored = yield* store.put(random(1_000), { mediaType: "text/plain" })
          const bytes = random(400_000)
          const [head, tail] = [bytes.subarray(0, 250_000), bytes.subarray(250_000)]
          const halfway = yield* Deferred.make<void>()
          const release = yield* Deferred.make<void>()
          const source = Stream.fromIterable(chunked(head, 50_000)).pipe(
            Stream.concat(Stream.fromEffectDrain(Deferred.succeed(halfway, undefined).pipe(Effect.andThen(Deferred.await(release))))),
            Stream.concat(Stream.fromIterable(chunked(tail, 50_000)))
          )
          const writing = yield* store.putStream(source, { mediaType: "text/plain" }).pipe(Effect.forkScoped)
          yield* Deferred.await(halfway)
          assert.deepStrictEqual(
            (yield* Stream.runCollect(store.list)).map((entry) => entry.ref),
            [listed(stored)]
          )
          yield* Deferred.succeed(release, undefined)
          const ref = yield* Fiber.join(writing)
          assert.strictEqual(ref.$blob, sha256(bytes))
          assert.deepStrictEqual(
            byDigest(yield* Stream.runCollect(store.list)).map((entry) => entry.ref),
            [listed(stored), listed(ref)].sort((a, b) => a.$blob.localeCompare(b.$blob))
          )
        }))

      if (options.writesTemporaries === true) {
        test("does not list the temporaries of a putStream whose process died", ({ store, abandonTemporary }) =>
          Effect.gen(function* () {
            assert.isDefined(abandonTemporary, "the harness must say how a dead putStream leaves a temporary behind")
            const ref = yield* store.put(random(100), { mediaType: "text/plain" })
            yield* abandonTemporary!
            assert.deepStrictEqual(
              (yield* Stream.runCollect(store.list)).map((entry) => entry.ref),
              [listed(ref)]
            )
          }))
      }
    })
  })
}
