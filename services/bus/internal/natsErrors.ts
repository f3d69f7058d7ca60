/**
 * Maps nats.js failures onto the bus errors by class and JetStream API code
 * (never by message text): API errors keep their numeric code, connection
 * states and client errors get a stable symbolic code.
 */
import { JetStreamApiError, JetStreamError } from "@nats-io/jetstream"
import {
  AuthorizationError,
  ClosedConnectionError,
  ConnectionError,
  DrainingConnectionError,
  InvalidArgumentError,
  InvalidSubjectError,
  PermissionViolationError,
  RequestError,
  TimeoutError
} from "@nats-io/transport-node"
import { BusError } from "../BusError.ts"

/** JetStream API codes the adapter reacts to. */
export const ApiCode = {
  ConsumerNotFound: 10014,
  StreamNameInUse: 10058,
  StreamNotFound: 10059,
  WrongLastSequence: 10071,
  ConsumerAlreadyExists: 10148,
  ConsumerNameExists: 10013,
  WrongLastSequenceUnknown: 10164
} as const

/** The JetStream API code of a failure, if it is an API error. */
export const apiCodeOf = (cause: unknown): number | undefined => (cause instanceof JetStreamApiError ? cause.code : undefined)

/** True when a request (or a JetStream publish, which is one) found nobody listening. */
export const isNoResponders = (cause: unknown): boolean =>
  (cause instanceof RequestError && cause.isNoResponders()) ||
  (cause instanceof Error && cause.cause instanceof RequestError && cause.cause.isNoResponders())

/** True when a request timed out. */
export const isTimeout = (cause: unknown): boolean =>
  cause instanceof TimeoutError || (cause instanceof Error && cause.cause instanceof TimeoutError)

/** Codes of a failed connect: the server refused the connection, or it failed some other way. */
export const ConnectCode = {
  Refused: "CONNECTION_REFUSED",
  Failed: "CONNECTION_FAILED"
} as const

// nats.js wraps the socket's error in a ConnectionError; its Node errno code says whether nothing listens there.
const connectCodeOf = (cause: ConnectionError): string =>
  cause.cause instanceof Error && (cause.cause as NodeJS.ErrnoException).code === "ECONNREFUSED" ? ConnectCode.Refused : ConnectCode.Failed

/** A stable code for a nats.js failure: the API code, or a symbolic one for connection and client errors. */
export const codeOf = (cause: unknown): string | undefined => {
  const api = apiCodeOf(cause)
  if (api !== undefined) return String(api)
  if (cause instanceof ConnectionError) return connectCodeOf(cause)
  if (cause instanceof ClosedConnectionError || cause instanceof DrainingConnectionError) return "CONNECTION_CLOSED"
  if (isTimeout(cause)) return "TIMEOUT"
  if (isNoResponders(cause)) return "NO_RESPONDERS"
  if (cause instanceof InvalidSubjectError) return "BAD_SUBJECT"
  if (cause instanceof InvalidArgumentError) return "BAD_ARGUMENT"
  if (cause instanceof PermissionViolationError) return "PERMISSION_VIOLATION"
  if (cause instanceof AuthorizationError) return "AUTHORIZATION"
  if (cause instanceof JetStreamError) return "JETSTREAM"
  return undefined
}

/** Wraps any nats.js failure of `operation` (on `subject`) in a BusError. */
export const toBusError =
  (operation: string, subject?: string) =>
  (cause: unknown): BusError => {
    const code = codeOf(cause)
    return new BusError({
      operation,
      ...(subject === undefined ? {} : { subject }),
      ...(code === undefined ? {} : { code }),
      message: cause instanceof Error ? cause.message : String(cause)
    })
  }
