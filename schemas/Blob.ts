/**
 * Blob references (claim checks): a value too large to travel in a message
 * is stored in the blob store under the SHA-256 of its bytes and travels as
 * `{"$blob": "sha256:<hex>", "size", "mediaType", "length"?}` instead. This
 * module owns the reference's schema, the cheap guard that spots one inside
 * any JSON value, and the digest helpers; hashing and storage live with the
 * blob store port (`@switchyard/bus/BlobStore`).
 */
import { Schema } from "effect"

/** Media type of a JSON value stored as a blob. */
export const jsonMediaType = "application/json"

/**
 * Media type of a long JSON list stored in segments: the blob holds the JSON
 * array of the segments' references (each an `application/json` array with
 * its `length`), and the list is their concatenation. A reader fetches only
 * the segments it needs; the reference's `length` is the list's.
 */
export const listMediaType = "application/vnd.switchyard.list+json"

const digestPattern = /^sha256:[0-9a-f]{64}$/u

const nonNegativeInt = Schema.Int.pipe(Schema.check(Schema.isGreaterThanOrEqualTo(0)))

/** `sha256:` followed by the 64 lowercase hex digits of the content's SHA-256. */
export const BlobDigest = Schema.String.pipe(
  Schema.check(Schema.isPattern(digestPattern, { message: "expected sha256: followed by 64 lowercase hex digits" }))
)

/** A reference to a blob, standing in for its content. */
export const BlobRef = Schema.Struct({
  $blob: BlobDigest,
  /** Size of the content in bytes. */
  size: nonNegativeInt,
  /** Media type of the content, e.g. `application/json`. */
  mediaType: Schema.String,
  /** Element count of what the reference stands for: the list, or the slice `from`..`to`. */
  length: Schema.optionalKey(nonNegativeInt),
  /** With `to`: the reference stands for the elements `from` to `to - 1` of the list it names. */
  from: Schema.optionalKey(nonNegativeInt),
  to: Schema.optionalKey(nonNegativeInt),
  /** The reference stands for element `at` of the list it names. */
  at: Schema.optionalKey(nonNegativeInt),
  /**
   * The reference stands for the value at this dotted path (`0.title`) inside what it otherwise
   * stands for; null when the path leads nowhere. A template path that crosses a stored value
   * (`{{ state.docs.0.title }}` with `docs` stored) becomes such a reference.
   */
  path: Schema.optionalKey(Schema.String.pipe(Schema.check(Schema.isMinLength(1))))
})
export type BlobRef = typeof BlobRef.Type

/**
 * True when `value` has the shape of a reference: a `$blob` string starting
 * with `sha256:` and a numeric `size`. Cheap enough to call on every node of a
 * large value; adapters validate the digest fully before using it.
 */
export const isBlobRef = (value: unknown): value is BlobRef => {
  if (typeof value !== "object" || value === null) return false
  const blob = (value as { readonly $blob?: unknown }).$blob
  return typeof blob === "string" && blob.startsWith("sha256:") && typeof (value as { readonly size?: unknown }).size === "number"
}

/** True when the reference's `$blob` is `sha256:` and 64 lowercase hex digits. */
export const hasValidDigest = (ref: BlobRef): boolean => digestPattern.test(ref.$blob)

/** The 64 hex digits of a reference's digest (what stores name the blob by). */
export const digestOf = (ref: BlobRef): string => ref.$blob.slice("sha256:".length)

/** Builds a reference from the hex SHA-256 of the content and its description. */
export const makeBlobRef = (options: {
  readonly sha256: string
  readonly size: number
  readonly mediaType: string
  readonly length?: number | undefined
}): BlobRef => ({
  $blob: `sha256:${options.sha256}`,
  size: options.size,
  mediaType: options.mediaType,
  ...(options.length === undefined ? {} : { length: options.length })
})

/** True when the reference stands for part of what it names (`from`/`to` or `at` of a list, or a `path` inside it). */
export const isPartRef = (ref: BlobRef): boolean =>
  ref.at !== undefined || ref.from !== undefined || ref.to !== undefined || ref.path !== undefined

/**
 * A reference to the value at `path` (dotted segments) inside what `ref` stands for. A leading
 * index into a list taken whole becomes `at`, so a reader fetches only the segment holding it.
 */
export const pathRef = (ref: BlobRef, path: ReadonlyArray<string>): BlobRef => {
  let rest = path
  let selected = ref
  const [first] = rest
  const whole = ref.at === undefined && ref.from === undefined && ref.to === undefined && ref.path === undefined
  if (whole && ref.length !== undefined && first !== undefined && /^(0|[1-9][0-9]*)$/.test(first) && Number(first) < ref.length) {
    selected = elementRef(ref, Number(first))
    rest = rest.slice(1)
  }
  if (rest.length === 0) return selected
  return { ...selected, path: selected.path === undefined ? rest.join(".") : `${selected.path}.${rest.join(".")}` }
}

/**
 * Text made of literal strings and values that include references, which the reader joins once it
 * has read them: strings as they are, other values as JSON, null as nothing. A template
 * interpolated into a longer string (`"Title: {{ state.docs.0.title }}"`) whose value is stored
 * becomes one, since only the reader of the blob can finish the string.
 */
export interface DeferredText {
  readonly $text: ReadonlyArray<unknown>
}

/** True when `value` has the shape of deferred text: an object whose only key is a `$text` array. */
export const isDeferredText = (value: unknown): value is DeferredText =>
  typeof value === "object" &&
  value !== null &&
  Array.isArray((value as { readonly $text?: unknown }).$text) &&
  Object.keys(value).length === 1

/** The string deferred text stands for, once the references among its parts were read. */
export const joinText = (text: DeferredText): string =>
  text.$text.map((part) => (typeof part === "string" ? part : part === null || part === undefined ? "" : JSON.stringify(part))).join("")

/** A reference to elements `from` to `to - 1` of the list `ref` names. */
export const sliceRef = (ref: BlobRef, from: number, to: number): BlobRef => ({
  $blob: ref.$blob,
  size: ref.size,
  mediaType: ref.mediaType,
  length: to - from,
  from,
  to
})

/** A reference to element `at` of the list `ref` names. */
export const elementRef = (ref: BlobRef, at: number): BlobRef => ({ $blob: ref.$blob, size: ref.size, mediaType: ref.mediaType, at })

/** `sha256:ab12… (123 bytes, application/json)`: how errors and logs name a reference. */
export const describeBlobRef = (ref: BlobRef): string =>
  `${ref.$blob} (${ref.size} bytes, ${ref.mediaType})${ref.at !== undefined ? ` element ${ref.at}` : ref.from !== undefined ? ` elements ${ref.from}..${ref.to}` : ""}${ref.path === undefined ? "" : ` at ${ref.path}`}`
