/**
 * The bytes behind a payload: its stable id and SHA-256, whether a media
 * type is text, UTF-8 decoding that refuses invalid bytes, reading a file or
 * URL, and getting a payload's bytes back (its inline content, or its `ref`
 * read again and checked against the recorded SHA-256). Every failure is a
 * `StageError` that names the stage and the source.
 */
import { createHash } from "node:crypto"
import { createReadStream } from "node:fs"
import { readFile, stat } from "node:fs/promises"
import { pipeline } from "node:stream/promises"
import { Effect, Result } from "effect"
import { StageError } from "@switchyard/sdk"
import type { StageBlobs } from "@switchyard/sdk"
import type { Payload } from "@switchyard/schemas/DocumentIR"
import { causeMessage } from "./causeMessage.ts"

/** The hex SHA-256 of some bytes. */
export const sha256Hex = (bytes: Uint8Array): string => createHash("sha256").update(bytes).digest("hex")

/** A payload's id: the first 16 hex digits of the SHA-256 of its source location. */
export const payloadId = (source: string): string => createHash("sha256").update(source).digest("hex").slice(0, 16)

/** Whether a media type is text (inlined as UTF-8): `text/*`, JSON, XML and friends. */
export const isTextual = (mediaType: string): boolean =>
  /^text\//.test(mediaType) ||
  /^application\/(json|xml|javascript|ecmascript|x-yaml|yaml|toml|x-sh)$/.test(mediaType) ||
  /\+(json|xml)$/.test(mediaType)

const utf8 = new TextDecoder("utf-8", { fatal: true })

/** The text of UTF-8 bytes, or `undefined` when they are not valid UTF-8. */
export const decodeUtf8 = (bytes: Uint8Array): string | undefined => Result.getOrUndefined(Result.try(() => utf8.decode(bytes)))

/** Whether a source is an http(s) URL rather than a file path. */
export const isUrl = (source: string): boolean => /^https?:\/\//i.test(source)

/** A failure of `stage` while working on `source`, with the underlying reason. */
const failure = (stage: string, what: string, error: unknown, retryable = true): StageError => {
  return new StageError({ message: `${stage}: ${what}: ${causeMessage(error)}`, retryable })
}

/** Size and SHA-256 of a file, hashed as a stream so it never sits in memory whole. */
export const hashFile = (stage: string, path: string): Effect.Effect<{ readonly size: number; readonly sha256: string }, StageError> =>
  Effect.tryPromise({
    try: () => {
      const hash = createHash("sha256")
      return pipeline(createReadStream(path), hash).then(() => hash.digest("hex"))
    },
    catch: (error) => failure(stage, `reading ${path} failed`, error)
  }).pipe(
    Effect.flatMap((sha256) =>
      Effect.tryPromise({ try: () => stat(path), catch: (error) => failure(stage, `reading ${path} failed`, error) }).pipe(
        Effect.map(({ size }) => ({ size, sha256 }))
      )
    )
  )

/** A file's bytes. */
export const readLocalFile = (stage: string, path: string): Effect.Effect<Uint8Array, StageError> =>
  Effect.tryPromise({ try: () => readFile(path), catch: (error) => failure(stage, `reading ${path} failed`, error) })

/** A URL's bytes and declared media type (without parameters); a failed response names the URL and status. */
export const fetchUrl = (
  stage: string,
  url: string,
  signal: AbortSignal
): Effect.Effect<{ readonly bytes: Uint8Array; readonly contentType: string | undefined }, StageError> =>
  Effect.gen(function* () {
    const response = yield* Effect.tryPromise({
      try: () => fetch(url, { signal, redirect: "follow" }),
      catch: (error) => failure(stage, `fetching ${url} failed`, error)
    })
    if (!response.ok) {
      yield* Effect.promise(() => response.body?.cancel() ?? Promise.resolve())
      return yield* new StageError({
        message: `${stage}: fetching ${url} answered ${response.status} ${response.statusText}`.trimEnd(),
        // Client errors will not change on a retry; server trouble and rate limits may.
        retryable: response.status >= 500 || response.status === 429
      })
    }
    const body = yield* Effect.tryPromise({
      try: () => response.arrayBuffer(),
      catch: (error) => failure(stage, `reading the response from ${url} failed`, error)
    })
    const contentType = response.headers.get("content-type")?.split(";")[0]?.trim().toLowerCase()
    return { bytes: new Uint8Array(body), contentType: contentType === "" ? undefined : contentType }
  })

/** A payload's bytes: its inline content decoded, or its `ref` read again and checked against its SHA-256. */
export const payloadBytes = (
  stage: string,
  payload: Payload,
  context: { readonly signal: AbortSignal; readonly blobs?: StageBlobs | undefined }
): Effect.Effect<Uint8Array, StageError> => {
  const { blobs, signal } = context
  if (payload.content !== undefined) {
    return Effect.succeed(
      payload.encoding === "base64" ? new Uint8Array(Buffer.from(payload.content, "base64")) : new TextEncoder().encode(payload.content)
    )
  }
  if (payload.blob !== undefined) {
    const blob = payload.blob
    if (blobs === undefined)
      return Effect.fail(
        new StageError({
          message: `${stage}: the payload for ${payload.source} is in the blob store (${blob.$blob}), and this executor offers none to read it from`,
          retryable: false
        })
      )
    // The store checks the bytes against the reference, whose digest is the payload's SHA-256.
    return Effect.tryPromise({
      try: () => blobs.get(blob),
      catch: (error) => failure(stage, `reading the payload for ${payload.source} from the blob store failed`, error)
    })
  }
  if (payload.ref === undefined) {
    return Effect.fail(
      new StageError({ message: `${stage}: the payload for ${payload.source} has neither content nor ref`, retryable: false })
    )
  }
  const ref = payload.ref
  const read = isUrl(ref) ? Effect.map(fetchUrl(stage, ref, signal), ({ bytes }) => bytes) : readLocalFile(stage, ref)
  return Effect.flatMap(read, (bytes) =>
    sha256Hex(bytes) === payload.sha256
      ? Effect.succeed(bytes)
      : Effect.fail(
          new StageError({
            message: `${stage}: ${ref} changed since it was ingested (SHA-256 ${sha256Hex(bytes)}, expected ${payload.sha256})`,
            retryable: false
          })
        )
  )
}
