/**
 * The one server and the one client of every request/reply endpoint
 * declared in `@switchyard/schemas/Endpoints`, over the `Bus` port. The
 * server subscribes in a queue group (each request goes to one replica),
 * decodes the request (an empty body stands for the endpoint's
 * `emptyRequest`), runs the handler under the sender's trace and answers a
 * request that carries a reply subject: the success reply, or an error reply
 * (`switchyard-type: EndpointError/1`) with the handler's typed error, a
 * `MalformedMessageError` for a request that does not decode, a
 * `ServiceUnavailableError` when the handler's storage failed (or the
 * handler died of a defect, which is logged). The client
 * sends a request with the caller's trace and turns an error reply back into
 * the typed error it names; a request larger than the server takes in one
 * message fails before it is sent, with a `BusError` coded `MAX_PAYLOAD`.
 */
import { Cause, type Duration, Effect, Option, type Scope, Stream } from "effect"
import type { Schema } from "effect"
import { decode, encode, type Headers, type MalformedMessageError, TypeHeader } from "@switchyard/schemas/Codec"
import { type AnyEndpoint, EndpointErrorType, ServiceUnavailableError } from "@switchyard/schemas/Endpoint"
import type { Names } from "@switchyard/schemas/Subjects"
import { traceHeaders, withParentFrom } from "@switchyard/schemas/TraceContext"
import type { Bus, Message } from "./Bus.ts"
import { BusError, MaxPayloadCode } from "./BusError.ts"
import type { NoRespondersError, RequestTimeoutError } from "./BusError.ts"

/** The request a handler gets, the success it returns and the errors it may fail with. */
type RequestOf<E extends AnyEndpoint> = Schema.Schema.Type<E["request"]>
type SuccessOf<E extends AnyEndpoint> = Schema.Schema.Type<E["success"]>
type ErrorOf<E extends AnyEndpoint> = Schema.Schema.Type<E["error"]>

/** Why a call failed: the endpoint's typed errors, or the bus's. */
export type CallError<E extends AnyEndpoint> = ErrorOf<E> | BusError | RequestTimeoutError | NoRespondersError

/** What `serve` takes. */
export interface ServeOptions<E extends AnyEndpoint, R> {
  readonly bus: Bus["Service"]
  readonly names: Names
  readonly endpoint: E
  /** The queue group of the serving service; each request goes to one member. */
  readonly queue: string
  /** Requests handled at once by this replica. */
  readonly concurrency: number
  /** A `BusError` becomes a `ServiceUnavailableError` reply naming its operation. */
  readonly handle: (
    request: RequestOf<E>,
    message: Message
  ) => Effect.Effect<SuccessOf<E>, ErrorOf<E> | ServiceUnavailableError | BusError, R>
}

/** Subscribes to the endpoint's subject now and serves it in a fiber that lives as long as the scope. */
export const serve = <E extends AnyEndpoint, R>(options: ServeOptions<E, R>): Effect.Effect<void, BusError, Scope.Scope | R> =>
  Effect.gen(function* () {
    const { bus, endpoint } = options
    const subject = endpoint.listen(options.names)
    const messages = yield* bus.subscribe(subject, { queue: options.queue })
    const decodeRequest = decode(endpoint.request, endpoint.requestType)

    const reply = (message: Message, body: { readonly data: Uint8Array; readonly headers: Headers }) =>
      message.reply === undefined ? Effect.void : bus.respond(message, body.data, { headers: body.headers })

    const replyError = (message: Message, error: ErrorOf<E>) => reply(message, encode(endpoint.error, EndpointErrorType, error))

    const answer = (message: Message) =>
      (message.data.length === 0 && endpoint.emptyRequest !== undefined
        ? Effect.succeed(endpoint.emptyRequest as RequestOf<E>)
        : (decodeRequest(message) as Effect.Effect<RequestOf<E>, MalformedMessageError>)
      ).pipe(
        Effect.matchEffect({
          onFailure: (malformed) =>
            Effect.logWarning(`rejected ${malformed.toString()}`).pipe(
              Effect.annotateLogs({ subject: malformed.subject, path: malformed.path, reason: malformed.message }),
              Effect.andThen(replyError(message, malformed as ErrorOf<E>))
            ),
          onSuccess: (request) =>
            options.handle(request, message).pipe(
              Effect.matchEffect({
                onSuccess: (success) => reply(message, encode(endpoint.success, endpoint.successType, success)),
                onFailure: (error) => {
                  if (!(error instanceof BusError)) return replyError(message, error as ErrorOf<E>)
                  const unavailable = new ServiceUnavailableError({
                    subject: message.subject,
                    operation: error.operation,
                    message: error.message
                  })
                  return Effect.logError(`could not serve a request on ${message.subject}`).pipe(
                    Effect.annotateLogs({ operation: error.operation, reason: error.message }),
                    Effect.andThen(replyError(message, unavailable as ErrorOf<E>))
                  )
                }
              }),
              // The handler's spans continue the sender's trace.
              withParentFrom(message.headers)
            )
        }),
        // A defect in a handler is logged, and the sender still hears back rather than waiting out its timeout.
        Effect.catchCause((cause) =>
          Cause.hasInterruptsOnly(cause)
            ? Effect.failCause(cause)
            : Effect.logError(`failed to answer a request on ${message.subject}`).pipe(
                Effect.annotateLogs({ cause: Cause.pretty(cause) }),
                Effect.andThen(
                  replyError(
                    message,
                    new ServiceUnavailableError({
                      subject: message.subject,
                      operation: "handle",
                      message: String(Cause.squash(cause))
                    }) as ErrorOf<E>
                  )
                ),
                Effect.ignore
              )
        )
      )

    yield* messages.pipe(
      Stream.mapEffect(answer, { concurrency: options.concurrency, unordered: true }),
      Stream.runDrain,
      Effect.forkScoped
    )
  })

/** What `call` takes besides the endpoint and the request. */
export interface CallOptions {
  readonly timeout: Duration.Input
  /** Headers besides the type and the trace context. */
  readonly headers?: Headers
}

/** Bytes of headers as NATS counts them: the `NATS/1.0` line, one `name: value` line each, a blank line. */
const headerBytes = (headers: Headers): number =>
  Object.keys(headers).length === 0
    ? 0
    : Object.entries(headers).reduce((total, [name, value]) => total + new TextEncoder().encode(`${name}: ${value}\r\n`).length, 12)

/** Sends one request and reads its reply; an error reply fails with the typed error it carries. */
export const call = <E extends AnyEndpoint>(
  bus: Bus["Service"],
  names: Names,
  endpoint: E,
  request: RequestOf<E>,
  options: CallOptions
): Effect.Effect<SuccessOf<E>, CallError<E>> => {
  const subject = endpoint.subject(names, request)
  const message = encode(endpoint.request, endpoint.requestType, request)
  const decodeSuccess = decode(endpoint.success, endpoint.successType)
  const decodeError = decode(endpoint.error, EndpointErrorType)
  return Effect.all([traceHeaders, bus.maxPayload]).pipe(
    Effect.flatMap(([trace, maxPayload]) => {
      const headers = { ...options.headers, ...message.headers, ...trace }
      // Refused here, naming the limit, rather than by the client library with a bare "max_payload size exceeded".
      const bytes = message.data.length + headerBytes(headers)
      if (Option.isSome(maxPayload) && bytes > maxPayload.value) {
        return Effect.fail(
          new BusError({
            operation: "request",
            subject,
            code: MaxPayloadCode,
            message: `the ${endpoint.name} request is ${bytes} bytes, over the ${maxPayload.value} bytes the server takes in one message (its max_payload)`
          })
        )
      }
      return bus.request(subject, message.data, { timeout: options.timeout, headers })
    }),
    Effect.flatMap((reply) => {
      // Decode errors name the request's subject, not the reply inbox.
      const received = { ...reply, subject }
      const isError = reply.headers[TypeHeader] === EndpointErrorType
      return isError
        ? Effect.flatMap(decodeError(received), (error) => Effect.failCause(Cause.fail(error as ErrorOf<E>)))
        : (decodeSuccess(received) as Effect.Effect<SuccessOf<E>, ErrorOf<E>>)
    })
  ) as Effect.Effect<SuccessOf<E>, CallError<E>>
}
