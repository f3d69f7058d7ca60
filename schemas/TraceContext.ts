/**
 * W3C trace context on the bus. A sender puts its current span into a
 * `traceparent` header (`traceHeaders`); a receiver continues the trace by
 * running its handler under the remote span (`withParentFrom`), so one trace
 * follows a run across every hop. Headers are read with Effect's own W3C
 * decoder (`effect/http/HttpTraceContext`), so the rules (version 00, valid
 * ids and flags) are Effect's. Works with Effect's own tracer and with any
 * tracer bridged into Effect (OpenTelemetry), since both use W3C-sized ids.
 */
import { Effect, Option } from "effect"
import type { Tracer } from "effect"
import * as HttpHeaders from "effect/http/Headers"
import * as HttpTraceContext from "effect/http/HttpTraceContext"

/** The W3C header carrying `version-traceId-spanId-flags`. */
export const TraceparentHeader = "traceparent"

/**
 * The `traceparent` value of a span. A remote parent (an `ExternalSpan`,
 * when the receiver opened no span of its own) is forwarded as it came.
 */
export const traceparentOf = (span: Tracer.AnySpan): string =>
  span._tag === "Span"
    ? HttpTraceContext.toHeaders(span)[TraceparentHeader]!
    : `00-${span.traceId}-${span.spanId}-${span.sampled ? "01" : "00"}`

/** Headers carrying the current span (`{}` outside any span); merge them into every outgoing message. */
export const traceHeaders: Effect.Effect<Record<string, string>> = Effect.currentParentSpan.pipe(
  Effect.map((span): Record<string, string> => ({ [TraceparentHeader]: traceparentOf(span) })),
  Effect.orElseSucceed((): Record<string, string> => ({}))
)

/** The remote span named by a message's headers, if any. */
export const remoteSpan = (headers: Readonly<Record<string, string>>): Option.Option<Tracer.ExternalSpan> => {
  const value = headers[TraceparentHeader]
  return value === undefined ? Option.none() : HttpTraceContext.w3c(HttpHeaders.fromRecordUnsafe({ [TraceparentHeader]: value }))
}

/**
 * Runs an effect as a continuation of the trace in `headers`: its spans become
 * children of the sender's span. Without a valid `traceparent` it runs as is.
 */
export const withParentFrom =
  (headers: Readonly<Record<string, string>>) =>
  <A, E, R>(self: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> =>
    Option.match(remoteSpan(headers), {
      onNone: () => self,
      onSome: (parent) => Effect.withParentSpan(self, parent)
    })
