/**
 * Serving one registry subject: a queue-group subscription whose messages are
 * decoded, handled (up to `concurrency` at once, each under the sender's
 * trace) and answered when they carry a reply subject. Bad input never stops
 * the loop: a message that does not decode is logged and answered with a
 * `MalformedMessageError` reply, a storage failure with a
 * `RegistryUnavailableError` reply, and a defect is logged.
 */
import { Cause, Effect, type Scope, Stream } from "effect"
import type { Bus, Headers, Message } from "@switchyard/bus/Bus"
import type { BusError } from "@switchyard/bus/BusError"
import { encode, type MalformedMessageError } from "@switchyard/schemas/Codec"
import { withParentFrom } from "@switchyard/schemas/TraceContext"
import { RegistryErrorReply, RegistryErrorType, RegistryUnavailableError } from "../RegistryError.ts"

/** A reply body and its headers. */
export interface Reply {
  readonly data: Uint8Array
  readonly headers: Headers
}

/** Queue group shared by all registry replicas: each request goes to one of them. */
export const queueGroup = "registry"

/** Requests of one subject a replica handles at once; handlers race safely (writes compare-and-set). */
export const concurrency = 64

/** Subscribes to `subject` now and serves it in a fiber that lives as long as the scope. */
export const serve = <A>(
  bus: Bus["Service"],
  options: {
    readonly subject: string
    readonly decode: (message: Message) => Effect.Effect<A, MalformedMessageError>
    readonly handle: (value: A) => Effect.Effect<Reply, BusError>
  }
): Effect.Effect<void, BusError, Scope.Scope> =>
  Effect.gen(function* () {
    const messages = yield* bus.subscribe(options.subject, { queue: queueGroup })

    const reply = (message: Message, body: Reply) =>
      message.reply === undefined ? Effect.void : bus.respond(message, body.data, { headers: body.headers })

    const answer = (message: Message) =>
      options.decode(message).pipe(
        Effect.flatMap(options.handle),
        Effect.flatMap((body) => reply(message, body)),
        // The handler's spans continue the sender's trace.
        withParentFrom(message.headers),
        Effect.catchTags({
          MalformedMessageError: (error) =>
            Effect.logWarning("rejected a malformed message").pipe(
              Effect.annotateLogs({ subject: error.subject, path: error.path, reason: error.message }),
              Effect.andThen(reply(message, encode(RegistryErrorReply, RegistryErrorType, error)))
            ),
          BusError: (error) => {
            const unavailable = new RegistryUnavailableError({
              subject: options.subject,
              operation: error.operation,
              message: error.message
            })
            return Effect.logError("could not serve a request").pipe(
              Effect.annotateLogs({ subject: options.subject, operation: error.operation, reason: error.message }),
              Effect.andThen(reply(message, encode(RegistryErrorReply, RegistryErrorType, unavailable)))
            )
          }
        }),
        Effect.catchCause((cause) =>
          Cause.hasInterruptsOnly(cause)
            ? Effect.failCause(cause)
            : Effect.logError("failed to answer a message").pipe(
                Effect.annotateLogs({ subject: options.subject, cause: Cause.pretty(cause) })
              )
        )
      )

    yield* messages.pipe(Stream.mapEffect(answer, { concurrency, unordered: true }), Stream.runDrain, Effect.forkScoped)
  })
