/**
 * Errors of the bus port. Adapters map their client's failures onto these by
 * class and API code, so callers can decide on retry without reading text.
 */
import { Schema } from "effect"

/** Client error codes of failures that may pass: the connection was lost or a request timed out. */
export const transientCodes: ReadonlySet<string> = new Set(["CONNECTION_CLOSED", "CONNECTION_REFUSED", "CONNECTION_FAILED", "TIMEOUT"])

/**
 * Codes of failures that found a stream, consumer or bucket gone (JetStream's stream-not-found and
 * consumer-not-found API codes, and a durable publish no stream captured). The service that owns
 * what is gone recreates it (`Infrastructure.ts`), so these pass too.
 */
export const missingCodes: ReadonlySet<string> = new Set(["10059", "10014", "NO_STREAM"])

/** The code of a `BusError` for a message refused before it was sent: larger than the server's `max_payload`. */
export const MaxPayloadCode = "MAX_PAYLOAD"

/** A bus operation failed (connection, server or stream error). */
export class BusError extends Schema.TaggedError<BusError>()("BusError", {
  operation: Schema.String,
  subject: Schema.optionalKey(Schema.String),
  /** Server API error code or client error code, when known. */
  code: Schema.optionalKey(Schema.String),
  message: Schema.String
}) {
  /** Connection-level failures and lost infrastructure may pass; bad requests won't. */
  get isRetryable(): boolean {
    return this.code === undefined || transientCodes.has(this.code) || missingCodes.has(this.code)
  }
  /** The operation found a stream, consumer or bucket gone (deleted, or lost with the server's store). */
  get isMissing(): boolean {
    return this.code !== undefined && missingCodes.has(this.code)
  }
}

/** A request got no reply in time. */
export class RequestTimeoutError extends Schema.TaggedError<RequestTimeoutError>()("RequestTimeoutError", {
  subject: Schema.String,
  timeoutMs: Schema.Number
}) {
  get isRetryable(): boolean {
    return true
  }
  override get message(): string {
    return `no reply on ${this.subject} within ${this.timeoutMs} ms`
  }
}

/** A request found nobody subscribed to its subject. */
export class NoRespondersError extends Schema.TaggedError<NoRespondersError>()("NoRespondersError", {
  subject: Schema.String
}) {
  get isRetryable(): boolean {
    return true
  }
  override get message(): string {
    return `no service is listening on ${this.subject}`
  }
}

/** A KV compare-and-set found a different revision than expected. */
export class KvConflictError extends Schema.TaggedError<KvConflictError>()("KvConflictError", {
  bucket: Schema.String,
  key: Schema.String,
  /** The revision the writer expected (0: the key must not exist). */
  expectedRevision: Schema.Number
}) {
  get isRetryable(): boolean {
    return false
  }
  override get message(): string {
    return `key ${this.key} in bucket ${this.bucket} is not at revision ${this.expectedRevision}`
  }
}
