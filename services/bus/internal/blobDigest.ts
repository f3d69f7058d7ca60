/**
 * What every blob store adapter shares: SHA-256 of content (whole or as it
 * streams past), the reference built from it, and the checks on read that
 * turn a missing or mismatching blob into the port's errors.
 */
import { createHash, type Hash } from "node:crypto"
import { Effect, Stream } from "effect"
import { type BlobRef, digestOf, hasValidDigest, makeBlobRef } from "@switchyard/schemas/Blob"
import { BlobCorruptError, InvalidBlobRefError } from "../BlobError.ts"

/** Hex SHA-256 of `bytes`. */
export const sha256Hex = (bytes: Uint8Array): string => createHash("sha256").update(bytes).digest("hex")

/** The reference of `bytes` stored with these options. */
export const refOf = (bytes: Uint8Array, options: { readonly mediaType: string; readonly length?: number | undefined }): BlobRef =>
  makeBlobRef({ sha256: sha256Hex(bytes), size: bytes.length, mediaType: options.mediaType, length: options.length })

/** The hex digest a store names the blob by, or an error when the reference is malformed. */
export const hexOf = (ref: BlobRef, store: string): Effect.Effect<string, InvalidBlobRefError> =>
  hasValidDigest(ref) ? Effect.succeed(digestOf(ref)) : Effect.fail(new InvalidBlobRefError({ blob: String(ref.$blob), store }))

const corrupt = (ref: BlobRef, store: string, check: "size" | "digest", expected: string, actual: string) =>
  new BlobCorruptError({ blob: ref.$blob, store, check, expected, actual })

/** `bytes` when they are what `ref` names; a `BlobCorruptError` otherwise. */
export const verify = (ref: BlobRef, store: string, bytes: Uint8Array): Effect.Effect<Uint8Array, BlobCorruptError> => {
  if (bytes.length !== ref.size) return Effect.fail(corrupt(ref, store, "size", `${ref.size} bytes`, `${bytes.length} bytes`))
  const actual = `sha256:${sha256Hex(bytes)}`
  return actual === ref.$blob ? Effect.succeed(bytes) : Effect.fail(corrupt(ref, store, "digest", ref.$blob, actual))
}

/**
 * Passes the chunks of `stream` through and fails with `BlobCorruptError` as
 * soon as they pass `ref.size`, or at the end when size or digest differ. A
 * reader of a corrupt blob may have seen chunks by then; only a stream that
 * ends without failing delivered the blob.
 */
export const verifying = <E, R>(
  ref: BlobRef,
  store: string,
  stream: Stream.Stream<Uint8Array, E, R>
): Stream.Stream<Uint8Array, E | BlobCorruptError, R> =>
  Stream.suspend(() => {
    const hash = createHash("sha256")
    let size = 0
    return stream.pipe(
      Stream.mapEffect((chunk) => {
        size += chunk.length
        if (size > ref.size) return Effect.fail(corrupt(ref, store, "size", `${ref.size} bytes`, `more than ${ref.size} bytes`))
        hash.update(chunk)
        return Effect.succeed(chunk)
      }),
      Stream.concat(
        Stream.fromEffectDrain(
          Effect.suspend(() => {
            if (size !== ref.size) return Effect.fail(corrupt(ref, store, "size", `${ref.size} bytes`, `${size} bytes`))
            const actual = `sha256:${hash.digest("hex")}`
            return actual === ref.$blob ? Effect.void : Effect.fail(corrupt(ref, store, "digest", ref.$blob, actual))
          })
        )
      )
    )
  })

/** Hashes and counts chunks as a writer consumes them; `ref` gives the reference once all were seen. */
export interface Digester {
  readonly update: (chunk: Uint8Array) => void
  readonly ref: (options: { readonly mediaType: string; readonly length?: number | undefined }) => BlobRef
}

/** A fresh digester. */
export const makeDigester = (): Digester => {
  const hash: Hash = createHash("sha256")
  let size = 0
  return {
    update: (chunk) => {
      size += chunk.length
      hash.update(chunk)
    },
    ref: (options) => makeBlobRef({ sha256: hash.digest("hex"), size, mediaType: options.mediaType, length: options.length })
  }
}
