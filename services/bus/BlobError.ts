/**
 * Errors of the blob store port. A reference names content by its digest, so
 * a blob that is absent or whose bytes do not hash to the digest is a fault
 * of the data, not of the moment: neither is retryable. Storage failures
 * (the server, the disk) carry the adapter's code and may pass.
 */
import { Effect, Schema } from "effect"
import { transientCodes } from "./BusError.ts"

/** The blob a reference names is not in the store. */
export class BlobMissingError extends Schema.TaggedError<BlobMissingError>()("BlobMissingError", {
  /** The reference's `$blob`. */
  blob: Schema.String,
  /** Where it was looked for: `bucket <name>` or `folder <path>`. */
  store: Schema.String
}) {
  get isRetryable(): boolean {
    return false
  }
  override get message(): string {
    return `blob ${this.blob} is not in ${this.store}`
  }
}

/** The stored bytes do not match the reference (size, digest), a JSON blob does not parse, or a list blob is not a list. */
export class BlobCorruptError extends Schema.TaggedError<BlobCorruptError>()("BlobCorruptError", {
  blob: Schema.String,
  store: Schema.String,
  /** What did not match. */
  check: Schema.Literals(["size", "digest", "json", "list"]),
  expected: Schema.String,
  actual: Schema.String
}) {
  get isRetryable(): boolean {
    return false
  }
  override get message(): string {
    return `blob ${this.blob} in ${this.store} is corrupt: ${this.check} is ${this.actual}, expected ${this.expected}`
  }
}

/** A reference whose `$blob` is not `sha256:` and 64 lowercase hex digits. */
export class InvalidBlobRefError extends Schema.TaggedError<InvalidBlobRefError>()("InvalidBlobRefError", {
  blob: Schema.String,
  store: Schema.String
}) {
  get isRetryable(): boolean {
    return false
  }
  override get message(): string {
    return `invalid blob reference for ${this.store}: $blob is ${JSON.stringify(this.blob)}, expected sha256: followed by 64 lowercase hex digits`
  }
}

/** The store itself failed (connection, server, disk). */
export class BlobStoreError extends Schema.TaggedError<BlobStoreError>()("BlobStoreError", {
  operation: Schema.String,
  store: Schema.String,
  /** The reference's `$blob`, when the operation concerned one. */
  blob: Schema.optionalKey(Schema.String),
  /** Server API code, client error code or errno (`ENOSPC`), when known. */
  code: Schema.optionalKey(Schema.String),
  /** The underlying failure's own message. */
  failure: Schema.String
}) {
  /** Connection-level and unknown failures may pass; a full disk or a refused request won't by itself. */
  get isRetryable(): boolean {
    return this.code === undefined || transientCodes.has(this.code) || this.code === "EAGAIN" || this.code === "EBUSY"
  }
  override get message(): string {
    return `blob store ${this.operation} failed on ${this.store}${this.blob === undefined ? "" : ` for ${this.blob}`}${
      this.code === undefined ? "" : ` (${this.code})`
    }: ${this.failure}`
  }
}

/** Every failure of the blob store port. */
export type BlobError = BlobMissingError | BlobCorruptError | InvalidBlobRefError | BlobStoreError

/**
 * How an adapter at `location` turns a failed call into a `BlobStoreError`, with the code
 * `codeOf` reads from the cause (errno, server or client code): `call(operation, blob, f)` runs
 * `f`, and `storeError(operation, blob)` maps a cause.
 */
export const storeCalls = (location: string, codeOf: (cause: unknown) => string | undefined) => {
  const storeError =
    (operation: string, blob?: string) =>
    (cause: unknown): BlobStoreError => {
      const code = codeOf(cause)
      return new BlobStoreError({
        operation,
        store: location,
        ...(blob === undefined ? {} : { blob }),
        ...(code === undefined ? {} : { code }),
        failure: cause instanceof Error ? cause.message : String(cause)
      })
    }
  const call = <A>(operation: string, blob: string | undefined, f: () => Promise<A>) =>
    Effect.tryPromise({ try: f, catch: storeError(operation, blob) })
  return { storeError, call }
}
