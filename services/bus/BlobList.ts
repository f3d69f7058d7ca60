/**
 * Long JSON lists in the blob store, in segments. A list whose JSON passes
 * `segmentBytes` is stored as segments (each an `application/json` array of
 * consecutive elements, with its `length`) and a list blob
 * (`application/vnd.switchyard.list+json`) holding the segments' references
 * in order. Nothing has to hold such a list whole to write or to read part
 * of it:
 *
 * - `makeListWriter` builds a list from parts in order (inline lists and
 *   values, stored lists, stored segments), packing inline elements into
 *   segments as they come and taking stored ones as they are, so combining
 *   the outputs of thousands of tasks copies only what was inline.
 * - `readPart` reads what a reference stands for: the whole content, or the
 *   slice `from`..`to` or element `at` of a list, fetching only the segments
 *   that hold it.
 *
 * Content is content-addressed, so parsed blobs may be kept in a
 * `ContentCache` for as long as one likes: a hit is never stale.
 */
import { Deferred, Effect } from "effect"
import { type BlobRef, isBlobRef, isPartRef, jsonMediaType, listMediaType, pathRef } from "@switchyard/schemas/Blob"
import type { BlobStore } from "./BlobStore.ts"
import { type BlobError, BlobCorruptError } from "./BlobError.ts"

/** A stored list is cut into segments of about this many bytes of JSON (at least the blob threshold). */
export const segmentBytes = 256 * 1024

/** Parsed blob content by digest. */
export interface ContentCache {
  readonly get: (digest: string) => unknown
  readonly set: (digest: string, content: unknown) => void
}

const encoder = new TextEncoder()
const decoder = new TextDecoder()

// Segments one read fetches at once.
const concurrency = 8

type Store = BlobStore["Service"]

/** The parsed JSON of a blob's bytes; text that is not JSON is a corrupt blob. */
export const parseJson = (ref: BlobRef, location: string, bytes: Uint8Array): Effect.Effect<unknown, BlobCorruptError> =>
  Effect.try({
    try: (): unknown => JSON.parse(decoder.decode(bytes)),
    catch: (cause) =>
      new BlobCorruptError({
        blob: ref.$blob,
        store: location,
        check: "json",
        expected: "JSON text",
        actual: cause instanceof Error ? cause.message : String(cause)
      })
  })

/** A read of a blob under way, in the cache until it ends: readers that want the same blob meanwhile wait for it. */
class Reading {
  readonly done: Deferred.Deferred<unknown, BlobError>
  constructor(done: Deferred.Deferred<unknown, BlobError>) {
    this.done = done
  }
}

/** The parsed content of the whole blob `ref` names, from `cache` when it holds it (or is reading it). */
const fetchParsed = (store: Store, cache: ContentCache, ref: BlobRef): Effect.Effect<unknown, BlobError> =>
  Effect.suspend(() => {
    const cached = cache.get(ref.$blob)
    if (cached instanceof Reading) return Deferred.await(cached.done)
    if (cached !== undefined) return Effect.succeed(cached)
    const reading = new Reading(Deferred.makeUnsafe<unknown, BlobError>())
    cache.set(ref.$blob, reading)
    // Read on a fiber of its own: a reader interrupted (its task timed out) does not take the read from the others.
    const read = store.get(ref).pipe(
      Effect.flatMap((bytes) => parseJson(ref, store.location, bytes)),
      Effect.onExit((exit) =>
        Effect.andThen(
          // A failed read is not remembered: the next reader tries again.
          Effect.sync(() => cache.set(ref.$blob, exit._tag === "Success" ? exit.value : undefined)),
          Deferred.done(reading.done, exit)
        )
      )
    )
    return Effect.andThen(Effect.forkDetach(read), Deferred.await(reading.done))
  })

const notSegments = (ref: BlobRef, store: Store, actual: string) =>
  new BlobCorruptError({ blob: ref.$blob, store: store.location, check: "list", expected: "a JSON array of segment references", actual })

/** The segment references a list blob holds. */
const segmentsOf = (store: Store, cache: ContentCache, ref: BlobRef): Effect.Effect<ReadonlyArray<BlobRef>, BlobError> =>
  Effect.flatMap(fetchParsed(store, cache, ref), (content) =>
    Array.isArray(content) && content.every((segment) => isBlobRef(segment) && segment.length !== undefined)
      ? Effect.succeed(content as ReadonlyArray<BlobRef>)
      : Effect.fail(notSegments(ref, store, Array.isArray(content) ? "an element that is not one" : typeof content))
  )

/** The range of elements a reference stands for, of a list of `length` elements. */
const rangeOf = (ref: BlobRef, length: number): readonly [number, number] =>
  ref.at !== undefined ? [ref.at, ref.at + 1] : [ref.from ?? 0, Math.min(ref.to ?? length, length)]

/** Elements `from` to `to - 1` of the list whose segments are given, fetching only the segments that hold them. */
const readRange = (
  store: Store,
  cache: ContentCache,
  segments: ReadonlyArray<BlobRef>,
  from: number,
  to: number
): Effect.Effect<Array<unknown>, BlobError> => {
  const wanted: Array<{ readonly segment: BlobRef; readonly start: number; readonly end: number }> = []
  let offset = 0
  for (const segment of segments) {
    const length = segment.length!
    if (offset + length > from && offset < to)
      wanted.push({ segment, start: Math.max(0, from - offset), end: Math.min(length, to - offset) })
    offset += length
    if (offset >= to) break
  }
  return Effect.forEach(
    wanted,
    ({ end, segment, start }) =>
      Effect.flatMap(fetchParsed(store, cache, segment), (content) =>
        Array.isArray(content)
          ? Effect.succeed(content.slice(start, end))
          : Effect.fail(
              new BlobCorruptError({
                blob: segment.$blob,
                store: store.location,
                check: "list",
                expected: "a JSON array",
                actual: typeof content
              })
            )
      ),
    { concurrency }
  ).pipe(Effect.map((parts) => parts.flat()))
}

/** What a reference without a `path` stands for: the whole content or list, or a slice or element of it. */
const readSelection = (store: Store, cache: ContentCache, ref: BlobRef): Effect.Effect<unknown, BlobError> => {
  if (ref.mediaType === listMediaType) {
    return Effect.flatMap(segmentsOf(store, cache, ref), (segments) => {
      const total = segments.reduce((sum, segment) => sum + segment.length!, 0)
      const [from, to] = rangeOf(ref, total)
      return Effect.map(readRange(store, cache, segments, from, to), (elements) => (ref.at !== undefined ? elements[0] : elements))
    })
  }
  return Effect.flatMap(fetchParsed(store, cache, ref), (content) => {
    if (!isPartRef(ref)) return Effect.succeed(content)
    if (!Array.isArray(content))
      return Effect.fail(
        new BlobCorruptError({ blob: ref.$blob, store: store.location, check: "list", expected: "a JSON array", actual: typeof content })
      )
    const [from, to] = rangeOf(ref, content.length)
    return Effect.succeed(ref.at !== undefined ? content[from] : content.slice(from, to))
  })
}

/** The value at `path` in `content`, reading on through a reference met on the way; null when absent. */
const follow = (store: Store, cache: ContentCache, content: unknown, path: ReadonlyArray<string>): Effect.Effect<unknown, BlobError> => {
  let current = content
  for (let i = 0; i < path.length; i++) {
    if (isBlobRef(current) && isReadable(current)) return readPart(store, cache, pathRef(current, path.slice(i)))
    if (current === null || typeof current !== "object") return Effect.succeed(null)
    current = (current as Record<string, unknown>)[path[i]!]
  }
  return Effect.succeed(current === undefined ? null : current)
}

/**
 * What `ref` stands for, parsed: the whole JSON content, the whole list, a slice or element of
 * either, or the value at its `path` inside that. References inside the content are left as they
 * are, except those on the way along the path.
 */
export const readPart = (store: Store, cache: ContentCache, ref: BlobRef): Effect.Effect<unknown, BlobError> => {
  if (ref.path === undefined) return readSelection(store, cache, ref)
  const { path, ...selection } = ref
  return Effect.flatMap(readSelection(store, cache, selection), (content) => follow(store, cache, content, path.split(".")))
}

/** True for a reference `readPart` reads (JSON content or a list). */
export const isReadable = (ref: BlobRef): boolean => ref.mediaType === jsonMediaType || ref.mediaType === listMediaType

const byteLength = (value: unknown): number => {
  const json = JSON.stringify(value) as string | undefined
  return json === undefined ? 4 : Buffer.byteLength(json)
}

/** Stores the segment references as a list blob and returns its reference (its `length` the list's). */
export const storeList = (store: Store, segments: ReadonlyArray<BlobRef>): Effect.Effect<BlobRef, BlobError> =>
  store.put(encoder.encode(JSON.stringify(segments)), {
    mediaType: listMediaType,
    length: segments.reduce((sum, segment) => sum + segment.length!, 0)
  })

/**
 * Builds one list from parts added in order: a list contributes its elements, a stored list
 * its segments, any other value itself (`undefined` nothing). `finish` gives the list inline
 * when it is at most `threshold` bytes of JSON and nothing was stored, else a reference.
 */
export const makeListWriter = (store: Store, threshold: number, cache: ContentCache) => {
  const limit = Math.max(threshold, segmentBytes)
  const segments: Array<BlobRef> = []
  let pending: Array<unknown> = []
  let pendingBytes = 2

  const flush = Effect.suspend(() => {
    if (pending.length === 0) return Effect.void
    const elements = pending
    pending = []
    pendingBytes = 2
    return Effect.map(store.put(encoder.encode(JSON.stringify(elements)), { mediaType: jsonMediaType, length: elements.length }), (ref) => {
      segments.push(ref)
    })
  })

  const addElement = (element: unknown): Effect.Effect<void, BlobError> => {
    pending.push(element)
    pendingBytes += byteLength(element) + 1
    return pendingBytes >= limit ? flush : Effect.void
  }

  const add = (part: unknown): Effect.Effect<void, BlobError> =>
    Effect.suspend(() => {
      if (part === undefined) return Effect.void
      if (isBlobRef(part) && isReadable(part)) {
        if (!isPartRef(part) && part.mediaType === listMediaType)
          return Effect.andThen(
            flush,
            Effect.map(segmentsOf(store, cache, part), (stored) => {
              for (const segment of stored) segments.push(segment)
            })
          )
        // A stored list taken whole becomes one segment as it is.
        if (!isPartRef(part) && part.length !== undefined) return Effect.map(flush, () => void segments.push(part))
        return Effect.flatMap(readPart(store, cache, part), add)
      }
      if (Array.isArray(part)) return Effect.forEach(part, addElement, { discard: true })
      return addElement(part)
    })

  const finish: Effect.Effect<unknown, BlobError> = Effect.suspend(() => {
    if (segments.length === 0 && pendingBytes <= threshold) return Effect.succeed(pending)
    return Effect.flatMap(flush, (): Effect.Effect<unknown, BlobError> =>
      segments.length === 1 ? Effect.succeed(segments[0]!) : storeList(store, segments)
    )
  })

  return { add, finish }
}
