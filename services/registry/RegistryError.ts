/**
 * What the registry answers instead of a normal reply when it cannot serve a
 * request. The reply carries the header `switchyard-type: RegistryError/1`
 * and a JSON body that is one of these tagged errors:
 *
 * - `{"_tag":"MalformedMessageError","subject":"stage.register","path":"stages","message":"StageRegistration: Expected array, found ..."}`
 *   the request did not decode; `path` is the offending field (`""` for the
 *   whole payload) and `message` what was expected. Sending it again will not help.
 * - `{"_tag":"RegistryUnavailableError","subject":"stage.list","operation":"kv.get","message":"..."}`
 *   the registry could not reach its storage; the request may be retried.
 *
 * `RegistryClient` turns these back into the same typed errors.
 */
import { Schema } from "effect"
import { MalformedMessageError } from "@switchyard/schemas/Codec"

/** The `switchyard-type` header value of an error reply. */
export const RegistryErrorType = "RegistryError/1"

/** The registry could not read or write its buckets while serving a request. */
export class RegistryUnavailableError extends Schema.TaggedError<RegistryUnavailableError>()("RegistryUnavailableError", {
  /** The subject of the request that failed. */
  subject: Schema.String,
  /** The storage operation that failed, e.g. `kv.update`. */
  operation: Schema.String,
  message: Schema.String
}) {
  get isRetryable(): boolean {
    return true
  }
}

/** Body of an error reply: one of the tagged errors above. */
export const RegistryErrorReply = Schema.Union([MalformedMessageError, RegistryUnavailableError])
export type RegistryErrorReply = typeof RegistryErrorReply.Type
