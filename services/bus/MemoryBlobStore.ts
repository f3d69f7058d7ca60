/**
 * The blob store in one process: a map from hex digest to bytes, media type
 * and time of storing, for tests and the embedded runtime when nothing need
 * outlive it. Bytes are copied in and out, so no caller can change a stored
 * blob; `stream` hands them out in chunks like the other adapters do.
 */
import { Clock, Effect, Layer, Option, Stream } from "effect"
import { makeBlobRef } from "@switchyard/schemas/Blob"
import { BlobStore, type PutOptions } from "./BlobStore.ts"
import { BlobMissingError } from "./BlobError.ts"
import { hexOf, refOf, verify, verifying } from "./internal/blobDigest.ts"

/** One stored blob. */
export interface MemoryBlob {
  readonly bytes: Uint8Array
  readonly mediaType: string
  /** When it was stored, in epoch milliseconds. */
  readonly storedAt: number
}

/** Options of the memory blob store. */
export interface MemoryBlobStoreOptions {
  /** The map to keep blobs in, keyed by hex digest (a test may reach into it); a fresh one when absent. */
  readonly entries?: Map<string, MemoryBlob>
  /**
   * Chunk size of `stream`, in bytes.
   * @default 65536
   */
  readonly chunkSize?: number
}

const location = "memory"

/** Builds a memory blob store. */
export const make = (options: MemoryBlobStoreOptions = {}): BlobStore["Service"] => {
  const entries = options.entries ?? new Map<string, MemoryBlob>()
  const chunkSize = options.chunkSize ?? 64 * 1024

  const put = (bytes: Uint8Array, putOptions: PutOptions) =>
    Effect.map(Clock.currentTimeMillis, (storedAt) => {
      const ref = refOf(bytes, putOptions)
      const hex = ref.$blob.slice("sha256:".length)
      const existing = entries.get(hex)
      entries.set(
        hex,
        existing === undefined ? { bytes: bytes.slice(), mediaType: putOptions.mediaType, storedAt } : { ...existing, storedAt }
      )
      return ref
    })

  // Copies taken chunk by chunk as the reader pulls, so a reader never holds a second whole copy.
  const chunksOf = (bytes: Uint8Array) =>
    Stream.fromIterable(
      (function* () {
        for (let offset = 0; offset < bytes.length; offset += chunkSize) yield bytes.slice(offset, offset + chunkSize)
      })(),
      { chunkSize: 1 }
    )

  const lookup = (ref: Parameters<BlobStore["Service"]["get"]>[0]) =>
    Effect.flatMap(hexOf(ref, location), (hex) => {
      const entry = entries.get(hex)
      return entry === undefined ? Effect.fail(new BlobMissingError({ blob: ref.$blob, store: location })) : Effect.succeed(entry)
    })

  return BlobStore.of({
    kind: "memory",
    location,
    put,
    putStream: (stream, putOptions) => Stream.runCollect(stream).pipe(Effect.flatMap((chunks) => put(Buffer.concat(chunks), putOptions))),
    get: (ref) => lookup(ref).pipe(Effect.flatMap((entry) => verify(ref, location, entry.bytes.slice()))),
    stream: (ref) => verifying(ref, location, Stream.unwrap(Effect.map(lookup(ref), (entry) => chunksOf(entry.bytes)))),
    stat: (ref) =>
      Effect.map(hexOf(ref, location), (hex) =>
        Option.map(Option.fromNullishOr(entries.get(hex)), (entry) => ({ size: entry.bytes.length, mediaType: entry.mediaType }))
      ),
    delete: (ref) =>
      Effect.map(hexOf(ref, location), (hex) => {
        entries.delete(hex)
      }),
    list: Stream.suspend(() =>
      Stream.fromIterable(
        Array.from(entries, ([hex, entry]) => ({
          ref: makeBlobRef({ sha256: hex, size: entry.bytes.length, mediaType: entry.mediaType }),
          storedAt: entry.storedAt
        }))
      )
    )
  })
}

/** A fresh, empty memory blob store. */
export const layer: Layer.Layer<BlobStore> = Layer.sync(BlobStore, () => make())
