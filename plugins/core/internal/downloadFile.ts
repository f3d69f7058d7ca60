/**
 * Downloads one URL to a file, safely: the body streams into `<name>.part`
 * in the target folder while its size is checked against the limit (the
 * transfer is aborted the moment it passes) and its SHA-256 is computed;
 * the content type and the expected checksum, when given, are checked; only
 * then is the part file renamed to its final name, atomically. A failed or
 * interrupted attempt removes its part file, so a partial download is never
 * left behind or mistaken for a finished one. Network errors, timeouts, 429
 * and 5xx are retried with exponential backoff; nothing else is.
 */
import { createHash } from "node:crypto"
import { open, rename, rm } from "node:fs/promises"
import { join } from "node:path"
import { Effect, Exit, Schedule, Schema, Stream } from "effect"
import mime from "mime-types"
import { causeMessage } from "./causeMessage.ts"

/** Why a download failed. */
export const DownloadFailureReason = Schema.Literals(["network", "status", "too-large", "content-type", "checksum", "file"])

/** A download failed: the URL, why, the HTTP status when there was one. */
export class DownloadError extends Schema.TaggedError<DownloadError>()("DownloadError", {
  url: Schema.String,
  reason: DownloadFailureReason,
  status: Schema.optionalKey(Schema.Int),
  message: Schema.String,
  retryable: Schema.Boolean
}) {
  get isRetryable(): boolean {
    return this.retryable
  }
}

/** A finished download. */
export interface Downloaded {
  readonly url: string
  /** Absolute path of the file. */
  readonly path: string
  readonly size: number
  /** SHA-256 of the bytes, hex. */
  readonly sha256: string
  /** From the Content-Type header, or guessed from the file name. */
  readonly mediaType: string
}

/** What `downloadFile` takes. */
export interface DownloadOptions {
  readonly url: string
  /** Expected SHA-256, hex. */
  readonly sha256?: string | undefined
  readonly dir: string
  /** File name inside `dir`. */
  readonly name: string
  readonly maxBytes: number
  /** Allowed media types; `type/*` allows a whole family. */
  readonly contentTypes?: ReadonlyArray<string> | undefined
  /** Further attempts after the first. */
  readonly retries: number
  /** First backoff delay, doubled on every retry. */
  readonly backoffMs: number
  /** Per attempt, headers and body together. */
  readonly timeoutMs?: number | undefined
  readonly signal: AbortSignal
}

/** The media type a Content-Type header names, lower cased, without parameters. */
const mediaTypeOf = (header: string | null): string | undefined => {
  const type = header?.split(";")[0]?.trim().toLowerCase()
  return type === undefined || type === "" ? undefined : type
}

const allows = (allowed: ReadonlyArray<string>, mediaType: string): boolean =>
  allowed.some((entry) => {
    const pattern = entry.trim().toLowerCase()
    return pattern.endsWith("/*") ? mediaType.startsWith(pattern.slice(0, -1)) : pattern === mediaType
  })

const attempt = (options: DownloadOptions): Effect.Effect<Downloaded, DownloadError> => {
  const { maxBytes, url } = options
  const fail = (reason: typeof DownloadFailureReason.Type, message: string, retryable: boolean, status?: number) =>
    new DownloadError({
      url,
      reason,
      message: `download of ${url} failed: ${message}`,
      retryable,
      ...(status === undefined ? {} : { status })
    })
  const part = join(options.dir, `${options.name}.part`)
  const target = join(options.dir, options.name)

  return Effect.gen(function* () {
    // Made per attempt: a retry gets its own time.
    const timeout = options.timeoutMs === undefined ? undefined : AbortSignal.timeout(options.timeoutMs)
    const networkFailure = (error: unknown, during: string) =>
      timeout?.aborted === true
        ? fail("network", `timed out after ${options.timeoutMs} ms ${during}`, true)
        : fail("network", `${during}: ${causeMessage(error)}`, true)
    const controller = new AbortController()
    const signals = [options.signal, controller.signal, ...(timeout === undefined ? [] : [timeout])]
    const response = yield* Effect.tryPromise({
      try: (interrupted) => fetch(url, { signal: AbortSignal.any([...signals, interrupted]), redirect: "follow" }),
      catch: (error) => networkFailure(error, "before a response arrived")
    })
    const refuse = (error: DownloadError) => {
      controller.abort()
      return Effect.fail(error)
    }
    if (!response.ok) {
      const retryable = response.status === 429 || response.status >= 500
      return yield* refuse(
        fail("status", `the server answered ${response.status} ${response.statusText}`.trim(), retryable, response.status)
      )
    }
    const mediaType = mediaTypeOf(response.headers.get("content-type")) ?? (mime.lookup(options.name) || "application/octet-stream")
    if (options.contentTypes !== undefined && !allows(options.contentTypes, mediaType)) {
      return yield* refuse(fail("content-type", `content type ${mediaType} is not one of ${options.contentTypes.join(", ")}`, false))
    }
    const declared = Number(response.headers.get("content-length") ?? Number.NaN)
    if (declared > maxBytes) {
      return yield* refuse(fail("too-large", `the server announced ${declared} bytes, more than the limit of ${maxBytes}`, false))
    }

    const hash = createHash("sha256")
    let size = 0
    // The part file is opened before streaming starts and closed before anything removes it, so an
    // interruption can never leave a file behind that a late open or write recreates.
    yield* Effect.acquireUseRelease(
      Effect.tryPromise({
        try: () => open(part, "w"),
        catch: (error) => fail("file", `cannot create ${part}: ${causeMessage(error)}`, false)
      }),
      (handle) =>
        response.body === null
          ? Effect.void
          : Stream.fromReadableStream({
              evaluate: () => response.body!,
              onError: (error) => networkFailure(error, "while reading the body")
            }).pipe(
              Stream.runForEach((chunk) => {
                size += chunk.length
                if (size > maxBytes) return Effect.fail(fail("too-large", `the body passed the limit of ${maxBytes} bytes`, false))
                hash.update(chunk)
                return Effect.tryPromise({
                  try: () => handle.appendFile(chunk),
                  catch: (error) => fail("file", `cannot write ${part}: ${causeMessage(error)}`, false)
                })
              })
            ),
      (handle) => Effect.promise(() => handle.close())
    ).pipe(Effect.onError(() => Effect.sync(() => controller.abort())))
    const sha256 = hash.digest("hex")
    if (options.sha256 !== undefined && options.sha256.toLowerCase() !== sha256) {
      return yield* fail("checksum", `expected SHA-256 ${options.sha256.toLowerCase()}, found ${sha256}`, false)
    }
    yield* Effect.tryPromise({
      try: () => rename(part, target),
      catch: (error) => fail("file", `cannot move ${part} to ${target}: ${causeMessage(error)}`, false)
    })
    return { url, path: target, size, sha256, mediaType }
  }).pipe(
    // Whatever ends an attempt short of the rename (failure or interruption) takes its part file with it.
    Effect.onExit((exit) => (Exit.isSuccess(exit) ? Effect.void : Effect.promise(() => rm(part, { force: true }))))
  )
}

/** Downloads `options.url` to `options.dir/options.name`, retrying network errors, 429 and 5xx. */
export const downloadFile = (options: DownloadOptions): Effect.Effect<Downloaded, DownloadError> =>
  attempt(options).pipe(
    Effect.retry({
      schedule: Schedule.exponential(`${options.backoffMs} millis`, 2),
      times: options.retries,
      while: (error) => error.retryable
    })
  )
