/**
 * The blob store over a JetStream object store (`@nats-io/obj`), on the
 * connection of the NATS bus (`NatsConnection`). An object is named by the
 * hex SHA-256 of its content and keeps its media type in the object's
 * metadata; chunks are at most `chunkSize` bytes (64 KiB by default), so no
 * message on the bus outgrows the payload threshold. The bucket is created
 * on first use; a create that races another process's finds the same bucket.
 * A failure that a missing bucket also causes (it was deleted, or lost with
 * the server's store) makes the next use open, so create, it again; an
 * operation that can be repeated (everything but `putStream`, whose source
 * is read once) is then tried once more at once.
 *
 * `put` writes the object's record only over the record it looked at, so of
 * concurrent first puts of the same content one wins and the object store
 * purges the chunks of the others, which then find the winner's object.
 *
 * The object store has no rename: `putStream` writes under a temporary name
 * while hashing, then renames the object's metadata to the digest (the chunks
 * stay where they are), or drops the temporary object when the digest is
 * already stored. Two first `putStream`s of the same content at once both
 * succeed; the later metadata wins and the earlier chunks become unreachable
 * garbage, never a wrong read.
 *
 * `list` reads the bucket's object records (metadata only) and reports the
 * live objects named by a digest, so a temporary name is never listed;
 * `storedAt` is the object's modification time, which a rename keeps, or
 * the time of a later put of the same content, kept in its metadata.
 */
import { randomUUID } from "node:crypto"
import { jetstream } from "@nats-io/jetstream"
import {
  Base64UrlPaddedCodec,
  type ObjectInfo,
  type ObjectStore,
  type ObjectStoreMeta,
  Objm,
  setSha256Backend,
  StorageType
} from "@nats-io/obj"
import { Effect, Layer, Option, Semaphore, Stream } from "effect"
import { Subjects } from "@switchyard/schemas/Subjects"
import { type BlobRef, makeBlobRef } from "@switchyard/schemas/Blob"
import { type BlobEntry, BlobStore, type PutOptions } from "./BlobStore.ts"
import { BlobCorruptError, type BlobError, BlobMissingError, BlobStoreError, storeCalls } from "./BlobError.ts"
import { hexOf, makeDigester, refOf, verifying } from "./internal/blobDigest.ts"
import { ApiCode, codeOf } from "./internal/natsErrors.ts"
import { NatsConnection } from "./NatsBus.ts"

/** Options of the NATS blob store. */
export interface NatsBlobStoreOptions {
  /** Object store bucket; the `buckets.blobs` name of the current `Subjects` when absent. */
  readonly bucket?: string
  /**
   * Largest chunk, in bytes (the server's max payload caps it).
   * @default 65536
   */
  readonly chunkSize?: number
}

/** Default chunk size: 64 KiB, the default payload threshold. */
export const defaultChunkSize = 64 * 1024

const fallbackMediaType = "application/octet-stream"

// Where `putStream` writes before the digest is known; never a 64-hex name.
const temporaryName = () => `incoming.${randomUUID()}`

const isLive = (info: ObjectInfo | null): info is ObjectInfo => info !== null && !info.deleted

const digestName = /^[0-9a-f]{64}$/u

const goneCodes: ReadonlySet<string> = new Set([String(ApiCode.StreamNotFound), "TIMEOUT", "NO_RESPONDERS"])

/** `SHA-256=<base64url>` as the object store records it, for the hex digest. */
const objectDigestOf = (hex: string): string => `SHA-256=${Base64UrlPaddedCodec.encode(Buffer.from(hex, "hex"))}`

const hexOfObjectDigest = (digest: string): string =>
  digest.startsWith("SHA-256=") ? `sha256:${Buffer.from(digest.slice("SHA-256=".length), "base64url").toString("hex")}` : digest

/** Builds the NATS blob store on the bus's connection. */
export const make = Effect.fn("NatsBlobStore.make")(function* (options: NatsBlobStoreOptions = {}) {
  const nc = yield* NatsConnection
  const bucket = options.bucket ?? (yield* Subjects).buckets.blobs
  const location = `bucket ${bucket}`
  const chunkSize = options.chunkSize ?? defaultChunkSize
  // The object store hashes every chunk it writes and reads; on Node it can use node:crypto rather than
  // its pure-JS default (a process-wide choice, the same for every store).
  setSha256Backend("native")
  const objm = new Objm(jetstream(nc))

  const { call, storeError } = storeCalls(location, codeOf)

  // Opened once; a failed open is not remembered, so the next call tries again.
  let opened: ObjectStore | undefined
  const lock = Semaphore.makeUnsafe(1)
  const create = call("open", undefined, () => objm.create(bucket, { storage: StorageType.File }))
  const open = Effect.suspend(() => {
    if (opened !== undefined) return Effect.succeed(opened)
    return Semaphore.withPermit(
      lock,
      Effect.suspend(() => {
        if (opened !== undefined) return Effect.succeed(opened)
        // Another process may create the bucket between our look and our create: then it exists.
        return create.pipe(
          Effect.catchIf(
            (error) => error.code === String(ApiCode.StreamNameInUse),
            () => create
          ),
          Effect.tap((store) =>
            Effect.sync(() => {
              opened = store
            })
          )
        )
      })
    )
  })

  /** Stream not found, or a JetStream request nobody answered (what a bucket that is gone causes). */
  const mayBeGone = (error: unknown): boolean => error instanceof BlobStoreError && error.code !== undefined && goneCodes.has(error.code)
  const forget = Effect.sync(() => {
    opened = undefined
  })
  /** Runs `operation` again, on a bucket opened anew, when it failed as a missing bucket would. */
  const reopening = <A, E, R>(operation: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> =>
    operation.pipe(Effect.catchIf(mayBeGone, () => forget.pipe(Effect.andThen(operation))))

  const metaOf = (name: string, putOptions: PutOptions): ObjectStoreMeta => ({
    name,
    metadata: { mediaType: putOptions.mediaType },
    options: { max_chunk_size: chunkSize }
  })

  const liveInfo = (store: ObjectStore, name: string, blob: string) => call("info", blob, () => store.info(name))

  /**
   * A put of content already stored records when it happened in the object's metadata
   * (`storedAt`): the object store keeps an object's modification time through updates.
   */
  const touch = (store: ObjectStore, info: ObjectInfo, blob: string) =>
    call("put", blob, () => store.update(info.name, { metadata: { ...info.metadata, storedAt: String(Date.now()) } }))

  const putOnce = Effect.fnUntraced(function* (bytes: Uint8Array, putOptions: PutOptions) {
    const ref = refOf(bytes, putOptions)
    const hex = yield* hexOf(ref, location)
    const store = yield* open
    const existing = yield* liveInfo(store, hex, ref.$blob)
    if (isLive(existing) && existing.size === ref.size) {
      yield* touch(store, existing, ref.$blob)
      return ref
    }
    // The record is written only over the one looked at (none: revision 0). Of concurrent first puts one
    // succeeds; the others fail, and the object store purges the chunks they wrote instead of orphaning them.
    yield* call("put", ref.$blob, () =>
      store.putBlob(metaOf(hex, putOptions), bytes, { previousRevision: existing === null ? 0 : existing.revision })
    ).pipe(
      Effect.catchIf(
        (error) => error.code === String(ApiCode.WrongLastSequence),
        (error) =>
          liveInfo(store, hex, ref.$blob).pipe(
            Effect.flatMap((info) => (isLive(info) && info.size === ref.size ? Effect.void : Effect.fail(error)))
          )
      )
    )
    return ref
  })
  const put = (bytes: Uint8Array, putOptions: PutOptions) =>
    reopening(putOnce(bytes, putOptions)).pipe(Effect.withSpan("NatsBlobStore.put"))

  const putStream = <E, R>(stream: Stream.Stream<Uint8Array, E, R>, putOptions: PutOptions) =>
    Effect.gen(function* () {
      const store = yield* open
      const temporary = temporaryName()
      const digester = makeDigester()
      // The object store reads a web stream; the source's own failure is kept aside to fail with it, typed.
      let sourceFailure: Option.Option<E> = Option.none()
      const source = stream.pipe(
        Stream.tap((chunk) => Effect.sync(() => digester.update(chunk))),
        Stream.tapError((error) =>
          Effect.sync(() => {
            sourceFailure = Option.some(error)
          })
        )
      )
      const readable = yield* Stream.toReadableStreamEffect(source)
      const written = yield* Effect.tryPromise({
        try: () => store.put(metaOf(temporary, putOptions), readable),
        catch: (cause): E | BlobStoreError => (Option.isSome(sourceFailure) ? sourceFailure.value : storeError("putStream")(cause))
      })
      const ref = digester.ref(putOptions)
      const hex = yield* hexOf(ref, location)
      const dropTemporary = call("putStream", ref.$blob, () => store.delete(temporary))
      const existing = yield* liveInfo(store, hex, ref.$blob)
      if (isLive(existing)) {
        yield* dropTemporary
        yield* touch(store, existing, ref.$blob)
        return ref
      }
      yield* call("putStream", ref.$blob, () =>
        store.update(temporary, { ...metaOf(hex, putOptions), options: written.options ?? { max_chunk_size: chunkSize } })
      ).pipe(
        // A concurrent put of the same content took the name first: its object is as good as ours.
        Effect.catch((error) =>
          liveInfo(store, hex, ref.$blob).pipe(Effect.flatMap((info) => (isLive(info) ? dropTemporary : Effect.fail(error))))
        )
      )
      return ref
    }).pipe(
      Effect.tapError((error) => (mayBeGone(error) ? forget : Effect.void)),
      Effect.withSpan("NatsBlobStore.putStream")
    )

  const stream = (ref: BlobRef): Stream.Stream<Uint8Array, BlobError> =>
    Stream.unwrap(
      Effect.gen(function* () {
        const hex = yield* hexOf(ref, location)
        const store = yield* open
        const result = yield* call("get", ref.$blob, () => store.get(hex))
        if (result === null) return yield* new BlobMissingError({ blob: ref.$blob, store: location })
        // The object's own record tells a mismatch before any chunk is read.
        const mismatch =
          result.info.size !== ref.size
            ? { check: "size" as const, expected: `${ref.size} bytes`, actual: `${result.info.size} bytes` }
            : result.info.digest !== objectDigestOf(hex)
              ? { check: "digest" as const, expected: ref.$blob, actual: hexOfObjectDigest(result.info.digest) }
              : undefined
        if (mismatch !== undefined) {
          yield* Effect.tryPromise(() => result.data.cancel()).pipe(Effect.ignore)
          return yield* new BlobCorruptError({ blob: ref.$blob, store: location, ...mismatch })
        }
        return verifying(
          ref,
          location,
          Stream.fromReadableStream({ evaluate: () => result.data, onError: storeError("get", ref.$blob) }).pipe(
            Stream.filter((chunk) => chunk.length > 0)
          )
        )
      }).pipe(Effect.tapError((error) => (mayBeGone(error) ? forget : Effect.void)))
    )

  const get = (ref: BlobRef) =>
    Stream.runCollect(stream(ref)).pipe(
      Effect.map((chunks) => (chunks.length === 1 ? chunks[0]! : new Uint8Array(Buffer.concat(chunks)))),
      Effect.withSpan("NatsBlobStore.get")
    )

  const stat = Effect.fn("NatsBlobStore.stat")(function* (ref: BlobRef) {
    const hex = yield* hexOf(ref, location)
    const info = yield* reopening(Effect.suspend(() => Effect.flatMap(open, (store) => liveInfo(store, hex, ref.$blob))))
    return isLive(info) ? Option.some({ size: info.size, mediaType: info.metadata?.["mediaType"] ?? fallbackMediaType }) : Option.none()
  })

  const removeOnce = Effect.fnUntraced(function* (ref: BlobRef) {
    const hex = yield* hexOf(ref, location)
    const store = yield* open
    if (!isLive(yield* liveInfo(store, hex, ref.$blob))) return
    yield* call("delete", ref.$blob, () => store.delete(hex))
  })
  const remove = (ref: BlobRef) => reopening(removeOnce(ref)).pipe(Effect.withSpan("NatsBlobStore.delete"))

  // The object store lists by reading every record to the end; there is no cursor to stream from.
  const list: Stream.Stream<BlobEntry, BlobError> = Stream.unwrap(
    Effect.gen(function* () {
      const infos = yield* reopening(Effect.flatMap(open, (store) => call("list", undefined, () => store.list())))
      return Stream.fromIterable(
        infos
          .filter((info) => isLive(info) && digestName.test(info.name))
          .map((info) => ({
            ref: makeBlobRef({ sha256: info.name, size: info.size, mediaType: info.metadata?.["mediaType"] ?? fallbackMediaType }),
            storedAt: Math.max(Date.parse(info.mtime), Number(info.metadata?.["storedAt"] ?? 0))
          }))
      )
    })
  ).pipe(Stream.withSpan("NatsBlobStore.list"))

  return BlobStore.of({ kind: "nats", location, put, putStream, get, stream, stat, delete: remove, list })
})

/** The NATS blob store on the connection of the NATS bus layer (`NatsBus.layer`). */
export const layer = (options: NatsBlobStoreOptions = {}): Layer.Layer<BlobStore, never, NatsConnection> =>
  Layer.effect(BlobStore, make(options))
