/**
 * The blob store port: content-addressed storage for values too large to
 * travel in a message (the claim check). A blob is named by the SHA-256 of
 * its bytes, so putting the same content twice, even at once from several
 * processes, stores it once and yields the same reference; the first put's
 * media type is kept. Every read checks size and digest against the
 * reference; `list` enumerates what is stored, for garbage collection.
 * `NatsBlobStore` keeps blobs in a JetStream object store,
 * `FolderBlobStore` in files, `MemoryBlobStore` in a map; all pass
 * `test/services/bus/BlobStoreSuite.ts`.
 */
import type { Effect, Option, Stream } from "effect"
import { Context } from "effect"
import type { BlobRef } from "@switchyard/schemas/Blob"
import type { BlobError } from "./BlobError.ts"

export type { BlobRef }

/** How a put describes its content. */
export interface PutOptions {
  readonly mediaType: string
  /** Element count, for a JSON array; copied into the reference. */
  readonly length?: number | undefined
}

/** What `stat` knows of a stored blob. */
export interface BlobStat {
  readonly size: number
  /** The media type of the first put of this content. */
  readonly mediaType: string
}

/** One stored blob, as `list` reports it. */
export interface BlobEntry {
  /** Its reference: digest, size and the media type of its first put (never `length`, which the store does not keep). */
  readonly ref: BlobRef
  /**
   * When its content was last put, in epoch milliseconds: a later put of the same content moves
   * it on, so garbage collection's grace period counts from the last writer that relied on it.
   */
  readonly storedAt: number
}

/** The blob store service. */
export class BlobStore extends Context.Service<
  BlobStore,
  {
    /** Which adapter this is. */
    readonly kind: "nats" | "folder" | "memory"
    /** Where blobs live, as errors name it: `bucket <name>`, `folder <path>`, `memory`. */
    readonly location: string
    /** Stores `bytes` under their SHA-256 (a no-op when already there). */
    readonly put: (bytes: Uint8Array, options: PutOptions) => Effect.Effect<BlobRef, BlobError>
    /**
     * Stores a stream of chunks without holding it whole where the adapter
     * allows: it is written under a temporary name while it is hashed, then
     * moved to its digest.
     */
    readonly putStream: <E, R>(stream: Stream.Stream<Uint8Array, E, R>, options: PutOptions) => Effect.Effect<BlobRef, BlobError | E, R>
    /** The content, checked against the reference. */
    readonly get: (ref: BlobRef) => Effect.Effect<Uint8Array, BlobError>
    /**
     * The content in chunks, checked as it passes: a corrupt blob fails the
     * stream (at the latest once its last chunk was read).
     */
    readonly stream: (ref: BlobRef) => Stream.Stream<Uint8Array, BlobError>
    /** Size and media type of the stored blob, if present (its digest is not checked). */
    readonly stat: (ref: BlobRef) => Effect.Effect<Option.Option<BlobStat>, BlobError>
    /** Removes the blob; removing a missing one succeeds. */
    readonly delete: (ref: BlobRef) => Effect.Effect<void, BlobError>
    /**
     * Every stored blob, in no particular order, for garbage collection: a
     * fresh listing on each run, never the temporary names of unfinished
     * `putStream`s. A blob put or deleted while the listing runs may or may
     * not be in it.
     */
    readonly list: Stream.Stream<BlobEntry, BlobError>
  }
>()("switchyard/bus/BlobStore") {}
