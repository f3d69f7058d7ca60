/**
 * `core/core.ingest`: turns a list of sources (files, folders read
 * recursively, glob patterns, http(s) URLs) into payloads, sorted by source.
 * Each payload carries a stable id (a hash of where it came from), its media
 * type (from the file extension, or the server's Content-Type), size and
 * SHA-256, and its bytes: inline as UTF-8 for text, base64 otherwise, or, past
 * `maxInlineBytes`, in the run's blob store as a `blob` reference any replica
 * can read (streamed from the file, never held whole), or, where the executor
 * offers no blob store (a plugin process), a `ref` (the file path or URL) for
 * `parse` to read.
 */
import { createReadStream } from "node:fs"
import { stat } from "node:fs/promises"
import { resolve } from "node:path"
import { Effect, Schema } from "effect"
import mime from "mime-types"
import { glob, isDynamicPattern } from "tinyglobby"
import { defineStage, StageError } from "@switchyard/sdk"
import type { StageBlobs } from "@switchyard/sdk"
import { Payload } from "@switchyard/schemas/DocumentIR"
import { decodeUtf8, fetchUrl, hashFile, isTextual, isUrl, payloadId, readLocalFile, sha256Hex } from "./internal/payloadBytes.ts"

const stage = "core.ingest"

/** What `core.ingest` reads; the descriptions and defaults are what the registry advertises. */
export const IngestInput = Schema.Struct({
  sources: Schema.Array(Schema.Union([Schema.String, Schema.Struct({ path: Schema.String })]))
    .pipe(Schema.check(Schema.isMinLength(1)))
    .annotate({
      description: "Files, folders (read recursively), glob patterns and http(s) URLs; or records with a `path`, such as download's files."
    }),
  include: Schema.Array(Schema.String)
    .annotate({ description: "Glob patterns selecting files inside folder sources.", default: ["**/*"] })
    .pipe(Schema.withDecodingDefaultKey(Effect.succeed(["**/*"]))),
  maxInlineBytes: Schema.Int.pipe(Schema.check(Schema.isGreaterThanOrEqualTo(0)))
    .annotate({
      description:
        "Largest payload kept inline, in bytes; larger ones go to the blob store (or, with none, become a ref to the file or URL).",
      default: 262144
    })
    .pipe(Schema.withDecodingDefaultKey(Effect.succeed(256 * 1024))),
  baseDir: Schema.optionalKey(
    Schema.String.annotate({
      description: "Directory that relative paths and patterns resolve against; the working directory when absent."
    })
  )
})

/** `stat` codes that mean nothing is there. */
const missing = new Set(["ENOENT", "ENOTDIR"])

const notFound = (message: string) => new StageError({ message: `${stage}: ${message}`, retryable: false })

const globFiles = (patterns: ReadonlyArray<string>, cwd: string) =>
  Effect.tryPromise({
    try: () => glob([...patterns], { cwd, absolute: true, onlyFiles: true, expandDirectories: false }),
    catch: (error) => new StageError({ message: `${stage}: listing ${patterns.join(", ")} under ${cwd} failed: ${String(error)}` })
  }).pipe(Effect.map((files) => files.sort()))

/** Absolute paths of the files a local source names, sorted; a source naming nothing is an error. */
const filesOf = (source: string, options: { readonly baseDir: string; readonly include: ReadonlyArray<string> }) =>
  Effect.gen(function* () {
    const path = resolve(options.baseDir, source)
    // An existing path wins over a pattern reading of the same string (a file may be called `notes (1).txt`).
    const info = yield* Effect.tryPromise({
      try: () => stat(path).catch((error: NodeJS.ErrnoException) => (missing.has(error.code ?? "") ? undefined : Promise.reject(error))),
      catch: (error) => new StageError({ message: `${stage}: reading ${path} failed: ${String(error)}` })
    })
    if (info === undefined) {
      if (!isDynamicPattern(source)) return yield* notFound(`the source ${source} does not exist (looked for ${path})`)
      const files = yield* globFiles([source], options.baseDir)
      if (files.length === 0) return yield* notFound(`the pattern ${source} matches no file under ${options.baseDir}`)
      return files
    }
    if (!info.isDirectory()) return [path]
    const files = yield* globFiles(options.include, path)
    if (files.length === 0)
      return yield* notFound(`the folder ${source} holds no file matching ${options.include.join(", ")} (looked in ${path})`)
    return files
  })

/** A payload from bytes it holds inline: UTF-8 for text that decodes cleanly, base64 otherwise. */
const inlinePayload = (source: string, mediaType: string, bytes: Uint8Array): Payload => {
  const base = { id: payloadId(source), source, mediaType, size: bytes.byteLength, sha256: sha256Hex(bytes) }
  const text = isTextual(mediaType) ? decodeUtf8(bytes) : undefined
  return text === undefined
    ? new Payload({ ...base, content: Buffer.from(bytes).toString("base64"), encoding: "base64" })
    : new Payload({ ...base, content: text, encoding: "utf8" })
}

const mediaTypeOf = (path: string): string => mime.lookup(path) || "application/octet-stream"

/** Where payloads past the inline limit go: the run's blob store when the executor offers one. */
type BigPayloads = StageBlobs | undefined

/**
 * The media type payload bytes are stored under: opaque bytes, whatever the payload's own media
 * type, so a JSON file is never taken for a JSON value and replaced by its content.
 */
const bytesMediaType = "application/octet-stream"

const storing = (source: string) => (error: unknown) =>
  new StageError({
    message: `${stage}: storing ${source} in the blob store failed: ${error instanceof Error ? error.message : String(error)}`
  })

/**
 * A file's payload; one past the inline limit is streamed into the blob store (or, with no
 * store, hashed as a stream and kept as a `ref` to the path).
 */
const readLocal = (path: string, maxInlineBytes: number, blobs: BigPayloads) =>
  Effect.gen(function* () {
    const { size } = yield* Effect.tryPromise({
      try: () => stat(path),
      catch: (error) => new StageError({ message: `${stage}: reading ${path} failed: ${String(error)}` })
    })
    const base = { id: payloadId(path), source: path, mediaType: mediaTypeOf(path) }
    if (size > maxInlineBytes && blobs !== undefined) {
      const blob = yield* Effect.tryPromise({
        try: () => blobs.put(createReadStream(path), { mediaType: bytesMediaType }),
        catch: storing(path)
      })
      return new Payload({ ...base, size: blob.size, sha256: blob.$blob.slice("sha256:".length), blob })
    }
    if (size > maxInlineBytes) return new Payload({ ...base, ...(yield* hashFile(stage, path)), ref: path })
    return inlinePayload(path, base.mediaType, yield* readLocalFile(stage, path))
  })

/** A URL's payload; its media type is the declared Content-Type, else guessed from the path. */
const readRemote = (url: string, maxInlineBytes: number, signal: AbortSignal, blobs: BigPayloads) =>
  Effect.flatMap(fetchUrl(stage, url, signal), ({ bytes, contentType }) => {
    const mediaType = contentType ?? mediaTypeOf(new URL(url).pathname)
    const base = { id: payloadId(url), source: url, mediaType, size: bytes.byteLength, sha256: sha256Hex(bytes) }
    if (bytes.byteLength <= maxInlineBytes) return Effect.succeed(inlinePayload(url, mediaType, bytes))
    if (blobs === undefined) return Effect.succeed(new Payload({ ...base, ref: url }))
    return Effect.map(
      Effect.tryPromise({ try: () => blobs.put(bytes, { mediaType: bytesMediaType }), catch: storing(url) }),
      (blob) => new Payload({ ...base, blob })
    )
  })

/** Reads every source into payloads, sorted by source and without repeats. */
export const ingest = defineStage({
  type: "core/core.ingest",
  version: "1.0.0",
  description: "Reads files, folders, glob patterns and http(s) URLs into payloads with media type, size, SHA-256 and content.",
  plugin: "core",
  stateKey: "payloads",
  output: "set",
  count: "length",
  timeout: 120_000,
  inputs: IngestInput,
  outputs: Schema.Array(Payload),
  run: ({ baseDir, include, maxInlineBytes, sources }, { blobs, signal }) =>
    Effect.gen(function* () {
      const base = resolve(baseDir ?? process.cwd())
      const locations = new Set<string>()
      for (const entry of sources) {
        const source = typeof entry === "string" ? entry : entry.path
        if (isUrl(source)) locations.add(source)
        else for (const file of yield* filesOf(source, { baseDir: base, include })) locations.add(file)
      }
      return yield* Effect.forEach(
        [...locations].sort(),
        (location) => (isUrl(location) ? readRemote(location, maxInlineBytes, signal, blobs) : readLocal(location, maxInlineBytes, blobs)),
        { concurrency: 8 }
      )
    })
})
