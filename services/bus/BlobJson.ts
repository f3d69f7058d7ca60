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
import { type BlobRef, isBlobRef, jsonMediaType } from "@switchyard/schemas/Blob"
import { BlobStore } from "./BlobStore.ts"
import { type BlobError, BlobCorruptError } from "./BlobError.ts"
import { refOf } from "./internal/blobDigest.ts"

/** Values whose JSON is larger than this many bytes travel as references unless configured otherwise. */
export const defaultThreshold = 64 * 1024

const encoder = new TextEncoder()
const decoder = new TextDecoder()

// How many blobs one call reads or writes at once.
const concurrency = 8

interface Blob {
  readonly ref: BlobRef
  readonly bytes: Uint8Array
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
    size = 2 + Math.max(0, value.length - 1)
    for (let i = 0; i < value.length; i++) {
      const child: unknown = value[i]
      const sized = walk(child, threshold, blobs)
      // An array writes null where JSON.stringify leaves a value out.
      size += sized.size < 0 ? 4 : sized.size
      if (sized.value !== child) {
        copy ??= value.slice()
        copy[i] = sized.value
      }
    }
    if (copy !== undefined) node = copy
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
 * container itself if it is still too large. A value at most `threshold`
 * bytes comes back as it is.
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

const isJsonRef = (value: BlobRef): boolean => value.mediaType === jsonMediaType

/** Adds the JSON references in `value` (not inside other references) to `found`; true when it met any reference. */
const collect = (value: unknown, found: Map<string, BlobRef>): boolean => {
  if (typeof value !== "object" || value === null) return false
  if (isBlobRef(value)) {
    if (isJsonRef(value)) found.set(value.$blob, value)
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

/** `value` with each JSON reference replaced from `resolved`, copying only the containers on the way. */
const replace = (value: unknown, resolved: ReadonlyMap<string, unknown>): unknown => {
  if (typeof value !== "object" || value === null) return value
  if (isBlobRef(value)) return resolved.has(value.$blob) ? resolved.get(value.$blob) : value
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

const parse = (ref: BlobRef, location: string, bytes: Uint8Array): Effect.Effect<unknown, BlobCorruptError> =>
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

const resolveWith = (value: unknown, store: BlobStore["Service"], cache: Map<string, unknown>): Effect.Effect<unknown, BlobError> =>
  Effect.suspend(() => {
    const found = new Map<string, BlobRef>()
    collect(value, found)
    if (found.size === 0) return Effect.succeed(value)
    return Effect.forEach(
      [...found.values()].filter((ref) => !cache.has(ref.$blob)),
      (ref) =>
        store.get(ref).pipe(
          Effect.flatMap((bytes) => parse(ref, store.location, bytes)),
          // Content may itself hold references (a stored object whose large fields were stored first).
          Effect.flatMap((content) => resolveWith(content, store, cache)),
          Effect.tap((content) => Effect.sync(() => cache.set(ref.$blob, content)))
        ),
      { concurrency, discard: true }
    ).pipe(Effect.map(() => replace(value, cache)))
  })

/**
 * The value with every `application/json` reference replaced by its parsed
 * content, recursively; references of other media types stay as they are,
 * and a value without references comes back as it is. Content met several
 * times is fetched once and shared.
 */
export const resolve = (value: unknown): Effect.Effect<unknown, BlobError, BlobStore> =>
  Effect.suspend(() =>
    containsRef(value) ? Effect.flatMap(BlobStore, (store) => resolveWith(value, store, new Map())) : Effect.succeed(value)
  ).pipe(Effect.withSpan("BlobJson.resolve"))
