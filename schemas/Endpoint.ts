/**
 * A request/reply endpoint as a value: the subject it is served on, the
 * request's schema and wire type, the success reply's schema and wire type,
 * and the errors it answers with. One generic server and one generic client
 * (`@switchyard/bus/Endpoints`) derive everything else from it, so every
 * endpoint follows the same convention on the wire:
 *
 * - a success reply carries the success schema's JSON and its
 *   `switchyard-type` (`RegistrationReply/1`, ...);
 * - an error reply carries `switchyard-type: EndpointError/1` and one tagged
 *   error of the endpoint's error union as JSON, e.g.
 *   `{"_tag":"MalformedMessageError","subject":"run.cancel","path":"runId","message":"..."}`.
 *
 * Every endpoint answers a request that does not decode with
 * `MalformedMessageError` (sending it again will not help) and a request it
 * could not serve for a passing reason (its storage unreachable) with
 * `ServiceUnavailableError` (retryable).
 */
import { Schema } from "effect"
import { MalformedMessageError } from "./Codec.ts"
import type { Names } from "./Subjects.ts"

/** The `switchyard-type` header value of an error reply. */
export const EndpointErrorType = "EndpointError/1"

/** A service could not serve a request for a passing reason (its storage unreachable); it may be retried. */
export class ServiceUnavailableError extends Schema.TaggedError<ServiceUnavailableError>()("ServiceUnavailableError", {
  /** The subject of the request that failed. */
  subject: Schema.String,
  /** The operation that failed, e.g. `kv.update`. */
  operation: Schema.String,
  message: Schema.String
}) {
  get isRetryable(): boolean {
    return true
  }
  override toString(): string {
    return `${this.subject}: the service could not ${this.operation}: ${this.message}`
  }
}

/** A schema that encodes to and decodes from JSON without services. */
export type WireSchema = Schema.Codec<any, any, never, never>

/** A request/reply endpoint. */
export interface Endpoint<Request extends WireSchema, Success extends WireSchema, Failure extends WireSchema> {
  /** The endpoint's name, also its subject without prefix or run id: `stage.register`, `ledger.update`. */
  readonly name: string
  /** The subject a request is sent to. */
  subject(names: Names, request: Request["Type"]): string
  /** The subject servers subscribe to (a wildcard for per-run subjects). */
  listen(names: Names): string
  readonly request: Request
  readonly requestType: string
  /** The request an empty body stands for, for hand-typed `nats req`; absent: an empty body is malformed. */
  readonly emptyRequest?: Request["Type"]
  readonly success: Success
  readonly successType: string
  /** Every error an error reply may carry: the endpoint's own and the two every endpoint has. */
  readonly error: Failure
}

/** Any endpoint. */
export type AnyEndpoint = Endpoint<WireSchema, WireSchema, WireSchema>

/** What every endpoint may answer besides its own errors. */
export type StandardError = MalformedMessageError | ServiceUnavailableError

/** Declares an endpoint; its error union is its own errors plus `MalformedMessageError` and `ServiceUnavailableError`. */
export const make = <
  Request extends WireSchema,
  Success extends WireSchema,
  const Errors extends ReadonlyArray<WireSchema> = readonly []
>(options: {
  readonly name: string
  readonly subject: (names: Names, request: Request["Type"]) => string
  /** Required when `subject` reads the request (a per-run subject); otherwise servers listen on `subject` itself. */
  readonly listen?: (names: Names) => string
  readonly request: Request
  readonly requestType: string
  readonly emptyRequest?: Request["Type"]
  readonly success: Success
  readonly successType: string
  readonly errors?: Errors
}): Endpoint<Request, Success, Schema.Union<readonly [typeof MalformedMessageError, typeof ServiceUnavailableError, ...Errors]>> => ({
  name: options.name,
  subject: options.subject,
  listen: options.listen ?? ((names) => options.subject(names, undefined as Request["Type"])),
  request: options.request,
  requestType: options.requestType,
  ...(options.emptyRequest === undefined ? {} : { emptyRequest: options.emptyRequest }),
  success: options.success,
  successType: options.successType,
  error: Schema.Union([MalformedMessageError, ServiceUnavailableError, ...(options.errors ?? ([] as unknown as Errors))])
})
