/**
 * The blob store in a folder, for the embedded runtime: the blob of hex
 * digest `ab12…` is the file `<root>/ab/ab12…`, its media type the sidecar
 * `<root>/ab/ab12….meta` (`{"mediaType": …}`). Every file is written under a
 * unique temporary name in `<root>/incoming/` and renamed into place, so a
 * reader never sees half a blob and concurrent puts of the same content
 * (threads or processes) each rename an identical file over the other. The
 * sidecar goes in before the blob, so a present blob always has one.
 * Temporary files of a process that died mid-write stay in `incoming/`;
 * `list` walks only the two-hex-digit folders and the digest-named files in
 * them, so it never reports one.
 */
import { randomUUID } from "node:crypto"
import { createReadStream } from "node:fs"
import type { Dirent } from "node:fs"
import { mkdir, open, opendir, readFile, rename, rm, stat as fileStat, utimes, writeFile } from "node:fs/promises"
import { dirname, join, resolve } from "node:path"
import { Effect, Layer, Option, Stream } from "effect"
import { type BlobRef, makeBlobRef } from "@switchyard/schemas/Blob"
import { type BlobEntry, BlobStore, type PutOptions } from "./BlobStore.ts"
import { type BlobError, BlobMissingError, BlobStoreError, storeCalls } from "./BlobError.ts"
import { hexOf, makeDigester, refOf, verify, verifying } from "./internal/blobDigest.ts"

/** Options of the folder blob store. */
export interface FolderBlobStoreOptions {
  /**
   * The folder blobs live in (created when missing).
   * @default ".switchyard/blobs"
   */
  readonly root?: string
  /**
   * Chunk size of `stream`, in bytes.
   * @default 65536
   */
  readonly chunkSize?: number
}

/** Where the embedded runtime keeps blobs, relative to the working directory. */
export const defaultRoot = ".switchyard/blobs"

const fallbackMediaType = "application/octet-stream"

const errnoOf = (cause: unknown): string | undefined =>
  typeof cause === "object" && cause !== null && typeof (cause as NodeJS.ErrnoException).code === "string"
    ? (cause as NodeJS.ErrnoException).code
    : undefined

const isMissing = (cause: unknown) => errnoOf(cause) === "ENOENT"

const prefixName = /^[0-9a-f]{2}$/u
const digestName = /^[0-9a-f]{64}$/u

/** Builds a folder blob store rooted at `options.root`. */
export const make = (options: FolderBlobStoreOptions = {}): BlobStore["Service"] => {
  const root = resolve(options.root ?? defaultRoot)
  const location = `folder ${root}`
  const chunkSize = options.chunkSize ?? 64 * 1024
  const incoming = join(root, "incoming")
  const blobPath = (hex: string) => join(root, hex.slice(0, 2), hex)
  const metaPath = (hex: string) => `${blobPath(hex)}.meta`
  const temporaryPath = () => join(incoming, randomUUID())

  const { call, storeError } = storeCalls(location, errnoOf)

  /** The size of the blob file, or none when it is absent. */
  const sizeOf = (hex: string, blob: string) =>
    Effect.tryPromise({ try: () => fileStat(blobPath(hex)), catch: (cause) => cause }).pipe(
      Effect.map((stats) => Option.some(stats.size)),
      Effect.catch((cause) => (isMissing(cause) ? Effect.succeed(Option.none<number>()) : Effect.fail(storeError("stat", blob)(cause))))
    )

  const removeQuietly = (path: string) => Effect.tryPromise(() => rm(path, { force: true })).pipe(Effect.ignore)

  /** Writes `data` to a temporary file and renames it to `target` (the temporary file goes on failure). */
  const writeAtomically = (target: string, data: Uint8Array | string, blob: string) => {
    const temporary = temporaryPath()
    return Effect.gen(function* () {
      yield* call("put", blob, () => mkdir(incoming, { recursive: true }))
      yield* call("put", blob, () => mkdir(dirname(target), { recursive: true }))
      yield* call("put", blob, () => writeFile(temporary, data))
      yield* call("put", blob, () => rename(temporary, target))
    }).pipe(Effect.onError(() => removeQuietly(temporary)))
  }

  /** Moves a finished blob file into place behind its sidecar, unless the blob is already stored. */
  const commit = (hex: string, ref: BlobRef, putOptions: PutOptions, write: (target: string) => Effect.Effect<void, BlobError>) =>
    Effect.gen(function* () {
      const present = yield* sizeOf(hex, ref.$blob)
      if (Option.isSome(present) && present.value === ref.size) {
        // Stored already: its modification time (what `list` reports) moves on to this put.
        const now = new Date()
        return yield* call("put", ref.$blob, () => utimes(blobPath(hex), now, now))
      }
      const hasMeta = yield* Effect.tryPromise(() => fileStat(metaPath(hex))).pipe(
        Effect.as(true),
        Effect.orElseSucceed(() => false)
      )
      if (!hasMeta) yield* writeAtomically(metaPath(hex), JSON.stringify({ mediaType: putOptions.mediaType }), ref.$blob)
      yield* write(blobPath(hex))
    })

  const put = Effect.fn("FolderBlobStore.put")(function* (bytes: Uint8Array, putOptions: PutOptions) {
    const ref = refOf(bytes, putOptions)
    const hex = yield* hexOf(ref, location)
    yield* commit(hex, ref, putOptions, (target) => writeAtomically(target, bytes, ref.$blob))
    return ref
  })

  const putStream = <E, R>(stream: Stream.Stream<Uint8Array, E, R>, putOptions: PutOptions) =>
    Effect.gen(function* () {
      const temporary = temporaryPath()
      const digester = makeDigester()
      yield* call("putStream", undefined, () => mkdir(incoming, { recursive: true }))
      const written = Effect.acquireUseRelease(
        call("putStream", undefined, () => open(temporary, "w")),
        (handle) =>
          Stream.runForEach(stream, (chunk) => {
            digester.update(chunk)
            return call("putStream", undefined, () => handle.write(chunk))
          }),
        (handle) => Effect.tryPromise(() => handle.close()).pipe(Effect.ignore)
      )
      return yield* Effect.gen(function* () {
        yield* written
        const ref = digester.ref(putOptions)
        const hex = yield* hexOf(ref, location)
        yield* commit(hex, ref, putOptions, (target) =>
          call("putStream", ref.$blob, () => mkdir(dirname(target), { recursive: true })).pipe(
            Effect.andThen(call("putStream", ref.$blob, () => rename(temporary, target)))
          )
        )
        return ref
      }).pipe(Effect.ensuring(removeQuietly(temporary)))
    }).pipe(Effect.withSpan("FolderBlobStore.putStream"))

  const missing = (ref: BlobRef) => new BlobMissingError({ blob: ref.$blob, store: location })

  const get = Effect.fn("FolderBlobStore.get")(function* (ref: BlobRef) {
    const hex = yield* hexOf(ref, location)
    const bytes = yield* Effect.tryPromise({ try: () => readFile(blobPath(hex)), catch: (cause) => cause }).pipe(
      Effect.mapError((cause) => (isMissing(cause) ? missing(ref) : storeError("get", ref.$blob)(cause)))
    )
    return yield* verify(ref, location, new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength))
  })

  const stream = (ref: BlobRef): Stream.Stream<Uint8Array, BlobError> =>
    Stream.unwrap(
      Effect.map(hexOf(ref, location), (hex) =>
        verifying(
          ref,
          location,
          Stream.fromAsyncIterable(
            createReadStream(blobPath(hex), { highWaterMark: chunkSize }) as AsyncIterable<Uint8Array>,
            (cause): BlobError => (isMissing(cause) ? missing(ref) : storeError("get", ref.$blob)(cause))
          )
        )
      )
    )

  // A sidecar that cannot be read or parsed loses the media type, not the blob.
  const mediaTypeOf = (hex: string) =>
    Effect.tryPromise(() => readFile(metaPath(hex), "utf8")).pipe(
      Effect.flatMap((text) => Effect.try(() => JSON.parse(text) as unknown)),
      Effect.map((parsed) =>
        typeof parsed === "object" && parsed !== null && typeof (parsed as { mediaType?: unknown }).mediaType === "string"
          ? (parsed as { mediaType: string }).mediaType
          : fallbackMediaType
      ),
      Effect.orElseSucceed(() => fallbackMediaType)
    )

  const stat = Effect.fn("FolderBlobStore.stat")(function* (ref: BlobRef) {
    const hex = yield* hexOf(ref, location)
    const size = yield* sizeOf(hex, ref.$blob)
    if (Option.isNone(size)) return Option.none()
    return Option.some({ size: size.value, mediaType: yield* mediaTypeOf(hex) })
  })

  const remove = Effect.fn("FolderBlobStore.delete")(function* (ref: BlobRef) {
    const hex = yield* hexOf(ref, location)
    // The blob before its sidecar: a present blob always has one.
    yield* call("delete", ref.$blob, () => rm(blobPath(hex), { force: true }))
    yield* call("delete", ref.$blob, () => rm(metaPath(hex), { force: true }))
  })

  /** The entries of a folder as they are read; none when it does not exist. */
  const folderEntries = (path: string): Stream.Stream<Dirent, BlobStoreError> =>
    Stream.unwrap(
      Effect.tryPromise({ try: () => opendir(path), catch: (cause) => cause }).pipe(
        Effect.map((dir) => Stream.fromAsyncIterable(dir, storeError("list"))),
        Effect.catch((cause) => (isMissing(cause) ? Effect.succeed(Stream.empty) : Effect.fail(storeError("list")(cause))))
      )
    )

  /** The listing entry of the blob file `hex`, or none when it went away since the folder was read. */
  const entryOf = (hex: string) =>
    Effect.tryPromise({ try: () => fileStat(blobPath(hex)), catch: (cause) => cause }).pipe(
      Effect.flatMap((stats) =>
        Effect.map(mediaTypeOf(hex), (mediaType): Option.Option<BlobEntry> =>
          Option.some({ ref: makeBlobRef({ sha256: hex, size: stats.size, mediaType }), storedAt: Math.trunc(stats.mtimeMs) })
        )
      ),
      Effect.catch((cause) => (isMissing(cause) ? Effect.succeed(Option.none()) : Effect.fail(storeError("list", `sha256:${hex}`)(cause))))
    )

  // Only `<xx>/<xx…>` names are blobs: `incoming/` and the `.meta` sidecars are not.
  const list: Stream.Stream<BlobEntry, BlobError> = folderEntries(root).pipe(
    Stream.filter((folder) => folder.isDirectory() && prefixName.test(folder.name)),
    Stream.flatMap((folder) =>
      folderEntries(join(root, folder.name)).pipe(
        Stream.filter((file) => file.isFile() && digestName.test(file.name) && file.name.startsWith(folder.name))
      )
    ),
    Stream.mapEffect((file) => entryOf(file.name)),
    Stream.flatMap((entry) => (Option.isSome(entry) ? Stream.succeed(entry.value) : Stream.empty))
  )

  return BlobStore.of({ kind: "folder", location, put, putStream, get, stream, stat, delete: remove, list })
}

/** A folder blob store rooted at `options.root` (`.switchyard/blobs` when absent). */
export const layer = (options: FolderBlobStoreOptions = {}): Layer.Layer<BlobStore> => Layer.sync(BlobStore, () => make(options))
