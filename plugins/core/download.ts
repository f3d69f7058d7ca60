/**
 * `core/core.download`: fetches a list of URLs into a folder of the run, with
 * a size limit enforced while streaming, optional content-type and SHA-256
 * checks, atomic renames (a partial file never counts and is removed) and
 * retries with exponential backoff on network errors, 429 and 5xx. Sets the
 * list of downloaded files in `downloaded_files`.
 */
import { createHash } from "node:crypto"
import { mkdir } from "node:fs/promises"
import { tmpdir } from "node:os"
import { extname, join, resolve } from "node:path"
import { Effect, Schema } from "effect"
import { defineStage, StageError } from "@switchyard/sdk"
import { downloadFile } from "./internal/downloadFile.ts"

const HttpUrl = Schema.String.pipe(
  Schema.check(
    Schema.makeFilter((url: string) => URL.canParse(url) && /^https?:$/.test(new URL(url).protocol), { message: "expected an http(s) URL" })
  )
)
const Sha256 = Schema.String.pipe(Schema.check(Schema.isPattern(/^[0-9a-fA-F]{64}$/, { message: "expected a SHA-256 as 64 hex digits" })))
const NonNegativeInt = Schema.Int.pipe(Schema.check(Schema.isGreaterThanOrEqualTo(0)))
const PositiveInt = Schema.Int.pipe(Schema.check(Schema.isGreaterThan(0)))

/** The inputs of `core/core.download`. */
export const DownloadInputs = Schema.Struct({
  /** URLs, each a string or `{ url, sha256? }` to check the bytes. */
  urls: Schema.Array(Schema.Union([HttpUrl, Schema.Struct({ url: HttpUrl, sha256: Schema.optionalKey(Sha256) })])).annotate({
    description: "http(s) URLs, each a string or { url, sha256 } to check the bytes."
  }),
  /** Target folder. @default <os tmpdir>/switchyard-runs/<runId>/downloads */
  dir: Schema.optionalKey(
    Schema.String.pipe(Schema.check(Schema.isNonEmpty())).annotate({
      description: "Folder to write to; <os tmpdir>/switchyard-runs/<runId>/downloads when absent."
    })
  ),
  /** Largest file accepted, in bytes. @default 52428800 (50 MiB) */
  maxBytes: PositiveInt.annotate({ description: "Largest file accepted, in bytes.", default: 50 * 1024 * 1024 }).pipe(
    Schema.withDecodingDefaultKey(Effect.succeed(50 * 1024 * 1024))
  ),
  /** Allowed media types (`type/*` for a family); any when absent. */
  contentTypes: Schema.optionalKey(
    Schema.Array(Schema.String).annotate({ description: "Allowed media types (type/* for a family); any when absent." })
  ),
  /** Further attempts per URL on network errors, timeouts, 429 and 5xx. @default 3 */
  retries: NonNegativeInt.annotate({ description: "Further attempts per URL on network errors, timeouts, 429 and 5xx.", default: 3 }).pipe(
    Schema.withDecodingDefaultKey(Effect.succeed(3))
  ),
  /** First retry delay in milliseconds, doubled on each retry. @default 250 */
  backoffMs: NonNegativeInt.annotate({ description: "First retry delay in milliseconds, doubled on each retry.", default: 250 }).pipe(
    Schema.withDecodingDefaultKey(Effect.succeed(250))
  ),
  /** Time limit per attempt (connection and body), in milliseconds; none when absent. */
  timeoutMs: Schema.optionalKey(PositiveInt.annotate({ description: "Time limit per attempt, headers and body, in milliseconds." })),
  /** Downloads in flight at once. @default 4 */
  concurrency: PositiveInt.annotate({ description: "Downloads in flight at once.", default: 4 }).pipe(
    Schema.withDecodingDefaultKey(Effect.succeed(4))
  )
})

/** One downloaded file. */
export const DownloadedFile = Schema.Struct({
  url: Schema.String,
  /** Absolute path. */
  path: Schema.String,
  size: Schema.Int,
  sha256: Schema.String,
  mediaType: Schema.String
})

const decodedPath = (segment: string): string => {
  try {
    return decodeURIComponent(segment)
  } catch {
    return segment
  }
}

/** File names for the URLs: the last path segment, made safe, with a short URL hash when two URLs share it. */
export const fileNamesFor = (urls: ReadonlyArray<string>): Array<string> => {
  const bases = urls.map((url) => {
    const segment = decodedPath(
      new URL(url).pathname
        .split("/")
        .filter((part) => part !== "")
        .at(-1) ?? ""
    )
    const safe = segment.replace(/[^A-Za-z0-9._-]+/g, "_").replace(/^[.]+/, "")
    return safe === "" ? "download" : safe
  })
  return bases.map((base, index) => {
    if (bases.indexOf(base) === bases.lastIndexOf(base)) return base
    const extension = extname(base)
    const tag = createHash("sha256").update(urls[index]!).digest("hex").slice(0, 8)
    return `${base.slice(0, base.length - extension.length)}-${tag}${extension}`
  })
}

/** `{ urls, dir?, maxBytes, contentTypes?, retries, timeoutMs? }` → `[{ url, path, size, sha256, mediaType }]`. */
export const download = defineStage({
  type: "core/core.download",
  version: "1.0.0",
  description:
    "Downloads URLs to files with a streaming size limit, content-type and SHA-256 checks, atomic renames and retries on network errors, 429 and 5xx.",
  plugin: "core",
  stateKey: "downloaded_files",
  output: "set",
  count: "length",
  timeout: 600_000,
  capabilities: { network: true },
  inputs: DownloadInputs,
  outputs: Schema.Array(DownloadedFile),
  run: (input, { runId, signal, taskId }) =>
    Effect.gen(function* () {
      const dir = resolve(input.dir ?? join(tmpdir(), "switchyard-runs", runId === "" ? `task-${taskId}` : runId, "downloads"))
      yield* Effect.tryPromise({
        try: () => mkdir(dir, { recursive: true }),
        catch: (error) =>
          new StageError({
            message: `core/core.download: cannot create ${dir}: ${error instanceof Error ? error.message : String(error)}`,
            retryable: false
          })
      })
      const targets = input.urls.map((entry) => (typeof entry === "string" ? { url: entry } : entry))
      const names = fileNamesFor(targets.map((target) => target.url))
      return yield* Effect.forEach(
        targets,
        (target, index) =>
          downloadFile({
            url: target.url,
            sha256: target.sha256,
            dir,
            name: names[index]!,
            maxBytes: input.maxBytes,
            contentTypes: input.contentTypes,
            retries: input.retries,
            backoffMs: input.backoffMs,
            timeoutMs: input.timeoutMs,
            signal
          }),
        { concurrency: input.concurrency }
      )
    })
})
