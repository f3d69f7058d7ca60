/**
 * JSON values over the blob store: `externalize` turns the parts of a value
 * larger than a threshold into blob references, `resolve` puts their content
 * back. This is the hot path of every large task input and stage output, so
 * both walk the value once in plain code and touch the store only for the
 * blobs themselves:
 *
 * - `externalize` measures bottom-up: a leaf's JSON is measured once, a
 *   container's size is the sum of its children's plus punctuation, and a
 *   container is serialised only when it is stored, after its large children
 *   became references. Each byte of the value is thus serialised at most
 *   once for storage, linear in the value's size however deep it is.
 * - `resolve` first collects the JSON references of the value; with none it
 *   returns the value itself, otherwise it fetches each distinct blob once
 *   and copies only the containers on the way to a reference.
 *
 * A value that happens to carry a `$blob` string starting with `sha256:` and
 * a numeric `size` is taken for a reference: the protocol reserves that shape.
 */
import { Effect } from "effect"
import { type BlobRef, isBlobRef, isDeferredText, joinText, jsonMediaType, listMediaType } from "@switchyard/schemas/Blob"
import { BlobStore } from "./BlobStore.ts"
import type { BlobError } from "./BlobError.ts"
import { type ContentCache, isReadable, readPart, segmentBytes } from "./BlobList.ts"
import { refOf } from "./internal/blobDigest.ts"

/** Values whose JSON is larger than this many bytes travel as references unless configured otherwise. */
export const defaultThreshold = 64 * 1024

const encoder = new TextEncoder()

// How many blobs one call reads or writes at once.
const concurrency = 8

interface Blob {
  readonly ref: BlobRef
  readonly bytes: Uint8Array
}

/** Stores `elements[from..to)` as one segment: a JSON array blob with its length. */
const segment = (elements: ReadonlyArray<unknown>, from: number, to: number, blobs: Map<string, Blob>): BlobRef => {
  const bytes = encoder.encode(JSON.stringify(elements.slice(from, to)))
  const ref = refOf(bytes, { mediaType: jsonMediaType, length: to - from })
  blobs.set(ref.$blob, { ref, bytes })
  return ref
}

/** Stores a list past the segment size as segments of about that size and a list blob naming them. */
const segmented = (elements: ReadonlyArray<unknown>, sizes: ReadonlyArray<number>, limit: number, blobs: Map<string, Blob>): BlobRef => {
  const segments: Array<BlobRef> = []
  let start = 0
  let bytes = 2
  for (let i = 0; i < elements.length; i++) {
    if (i > start && bytes + sizes[i]! + 1 > limit) {
      segments.push(segment(elements, start, i, blobs))
      start = i
      bytes = 2
    }
    bytes += sizes[i]! + 1
  }
  segments.push(segment(elements, start, elements.length, blobs))
  const manifest = encoder.encode(JSON.stringify(segments))
  const ref = refOf(manifest, { mediaType: listMediaType, length: elements.length })
  blobs.set(ref.$blob, { ref, bytes: manifest })
  return ref
}

interface Sized {
  readonly value: unknown
  /** UTF-8 bytes of the value's JSON; -1 when JSON.stringify leaves it out (undefined, functions, symbols). */
  readonly size: number
}

const isPlainContainer = (value: object): boolean =>
  Array.isArray(value) || typeof (value as { readonly toJSON?: unknown }).toJSON !== "function"

const leafSize = (value: unknown): number => {
  const json = JSON.stringify(value) as string | undefined
  return json === undefined ? -1 : Buffer.byteLength(json)
}

/**
 * Measures `value` bottom-up and replaces each container larger than
 * `threshold` (after its own large parts were replaced) by a reference,
 * collecting the blobs to store in `blobs`.
 */
const walk = (value: unknown, threshold: number, blobs: Map<string, Blob>): Sized => {
  if (typeof value !== "object" || value === null || !isPlainContainer(value)) return { value, size: leafSize(value) }
  if (isBlobRef(value)) return { value, size: leafSize(value) }
  let size: number
  let node: unknown = value
  if (Array.isArray(value)) {
    let copy: Array<unknown> | undefined
    const sizes = new Array<number>(value.length)
    size = 2 + Math.max(0, value.length - 1)
    for (let i = 0; i < value.length; i++) {
      const child: unknown = value[i]
      const sized = walk(child, threshold, blobs)
      // An array writes null where JSON.stringify leaves a value out.
      sizes[i] = sized.size < 0 ? 4 : sized.size
      size += sizes[i]!
      if (sized.value !== child) {
        copy ??= value.slice()
        copy[i] = sized.value
      }
    }
    if (copy !== undefined) node = copy
    const limit = Math.max(threshold, segmentBytes)
    if (size > limit) {
      const ref = segmented(node as ReadonlyArray<unknown>, sizes, limit, blobs)
      return { value: ref, size: leafSize(ref) }
    }
  } else {
    const record = value as Record<string, unknown>
    let copy: Record<string, unknown> | undefined
    let members = 0
    size = 2
    for (const key of Object.keys(record)) {
      const child = record[key]
      const sized = walk(child, threshold, blobs)
      if (sized.size < 0) continue
      members++
      size += Buffer.byteLength(JSON.stringify(key)) + 1 + sized.size
      if (sized.value !== child) {
        copy ??= { ...record }
        copy[key] = sized.value
      }
    }
    size += Math.max(0, members - 1)
    if (copy !== undefined) node = copy
  }
  if (size <= threshold) return { value: node, size }
  const bytes = encoder.encode(JSON.stringify(node))
  const ref = refOf(bytes, { mediaType: jsonMediaType, length: Array.isArray(node) ? node.length : undefined })
  blobs.set(ref.$blob, { ref, bytes })
  return { value: ref, size: leafSize(ref) }
}

/**
 * The value with every part whose JSON is larger than `threshold` bytes
 * stored as a blob (`application/json`, with `length` for an array) and
 * replaced by its reference: large elements and fields first, then the
 * container itself if it is still too large. A list past `segmentBytes` is
 * stored in segments (`BlobList.ts`). A value at most `threshold` bytes comes
 * back as it is.
 */
export const externalize = (value: unknown, threshold: number): Effect.Effect<unknown, BlobError, BlobStore> =>
  Effect.suspend(() => {
    const blobs = new Map<string, Blob>()
    const result = walk(value, threshold, blobs).value
    if (blobs.size === 0) return Effect.succeed(result)
    return Effect.flatMap(BlobStore, (store) =>
      Effect.forEach(blobs.values(), (blob) => store.put(blob.bytes, { mediaType: blob.ref.mediaType, length: blob.ref.length }), {
        concurrency,
        discard: true
      })
    ).pipe(Effect.as(result))
  }).pipe(Effect.withSpan("BlobJson.externalize"))

/** Stores `value` as one JSON blob, whatever its size, and returns its reference. */
export const storeJson = (value: unknown): Effect.Effect<BlobRef, BlobError, BlobStore> =>
  Effect.flatMap(BlobStore, (store) =>
    store.put(encoder.encode(JSON.stringify(value)), { mediaType: jsonMediaType, length: Array.isArray(value) ? value.length : undefined })
  )

/** How a reference is known among those of one value: its blob and the part of it it stands for. */
const keyOf = (ref: BlobRef): string =>
  (ref.at !== undefined
    ? `${ref.$blob}@${ref.at}`
    : ref.from !== undefined || ref.to !== undefined
      ? `${ref.$blob}[${ref.from}:${ref.to}]`
      : ref.$blob) + (ref.path === undefined ? "" : `/${ref.path}`)

/** Adds the readable references in `value` (not inside other references) to `found`; true when it met any reference. */
const collect = (value: unknown, found: Map<string, BlobRef>): boolean => {
  if (typeof value !== "object" || value === null) return false
  if (isBlobRef(value)) {
    if (isReadable(value)) found.set(keyOf(value), value)
    return true
  }
  let any = false
  if (Array.isArray(value)) {
    for (const child of value) any = collect(child, found) || any
  } else {
    for (const key in value) any = collect((value as Record<string, unknown>)[key], found) || any
  }
  return any
}

/** True when `value` holds a blob reference anywhere (of any media type). */
export const containsRef = (value: unknown): boolean => {
  if (typeof value !== "object" || value === null) return false
  if (isBlobRef(value)) return true
  if (Array.isArray(value)) return value.some(containsRef)
  for (const key in value) if (containsRef((value as Record<string, unknown>)[key])) return true
  return false
}

/**
 * `value` with each JSON reference replaced from `resolved`, copying only the containers on the
 * way, and deferred text joined once its references are replaced.
 */
const replace = (value: unknown, resolved: ReadonlyMap<string, unknown>): unknown => {
  if (typeof value !== "object" || value === null) return value
  if (isBlobRef(value)) {
    const key = keyOf(value)
    return resolved.has(key) ? resolved.get(key) : value
  }
  if (isDeferredText(value)) return joinText({ $text: value.$text.map((part) => replace(part, resolved)) })
  if (Array.isArray(value)) {
    let copy: Array<unknown> | undefined
    for (let i = 0; i < value.length; i++) {
      const child: unknown = value[i]
      const next = replace(child, resolved)
      if (next !== child) {
        copy ??= value.slice()
        copy[i] = next
      }
    }
    return copy ?? value
  }
  const record = value as Record<string, unknown>
  let copy: Record<string, unknown> | undefined
  for (const key in record) {
    const child = record[key]
    const next = replace(child, resolved)
    if (next !== child) {
      copy ??= { ...record }
      copy[key] = next
    }
  }
  return copy ?? value
}

const resolveWith = (
  value: unknown,
  store: BlobStore["Service"],
  resolved: Map<string, unknown>,
  cache: ContentCache
): Effect.Effect<unknown, BlobError> =>
  Effect.suspend(() => {
    const found = new Map<string, BlobRef>()
    collect(value, found)
    // No readable reference: only deferred text (of other references) may need joining.
    if (found.size === 0) return Effect.succeed(replace(value, resolved))
    return Effect.forEach(
      [...found.entries()].filter(([key]) => !resolved.has(key)),
      ([key, ref]) =>
        readPart(store, cache, ref).pipe(
          // Content may itself hold references (a stored object whose large fields were stored first).
          Effect.flatMap((content) => resolveWith(content, store, resolved, cache)),
          Effect.tap((content) => Effect.sync(() => resolved.set(key, content)))
        ),
      { concurrency, discard: true }
    ).pipe(Effect.map(() => replace(value, resolved)))
  })

/** A cache of parsed blobs for one call. */
const callCache = (): ContentCache => {
  const entries = new Map<string, unknown>()
  return { get: (digest) => entries.get(digest), set: (digest, content) => void entries.set(digest, content) }
}

/**
 * The value with every `application/json` reference replaced by its parsed
 * content (a list's references by the list, or by the slice, element or path
 * they stand for), recursively, and deferred text (`{"$text": [...]}`) joined
 * into its string; references of other media types stay as they are, and a
 * value without references comes back as it is. Content met several
 * times is fetched once and shared; `cache` keeps parsed blobs across calls.
 */
export const resolve = (value: unknown, options?: { readonly cache?: ContentCache }): Effect.Effect<unknown, BlobError, BlobStore> =>
  Effect.suspend(() =>
    containsRef(value)
      ? Effect.flatMap(BlobStore, (store) => resolveWith(value, store, new Map(), options?.cache ?? callCache()))
      : Effect.succeed(value)
  ).pipe(Effect.withSpan("BlobJson.resolve"))
