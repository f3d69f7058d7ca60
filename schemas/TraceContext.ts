/**
 * W3C trace context on the bus. A sender puts its current span into a
 * `traceparent` header (`traceHeaders`); a receiver continues the trace by
 * running its handler under the remote span (`withParentFrom`), so one trace
 * follows a run across every hop. Works with Effect's own tracer and with any
 * tracer bridged into Effect (OpenTelemetry), since both use W3C-sized ids.
 */
import { Effect, Option, Tracer } from "effect"

/** The W3C header carrying `version-traceId-spanId-flags`. */
export const TraceparentHeader = "traceparent"

/** The fields of a `traceparent` value. */
export interface TraceParent {
  readonly traceId: string
  readonly spanId: string
  readonly sampled: boolean
}

const pattern = /^([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})(-.*)?$/
const zeroTrace = "0".repeat(32)
const zeroSpan = "0".repeat(16)

/** Formats a span as a version-00 `traceparent` value. */
export const formatTraceparent = (span: TraceParent): string => `00-${span.traceId}-${span.spanId}-${span.sampled ? "01" : "00"}`

/**
 * Parses a `traceparent` value; `None` when it is malformed, uses the
 * forbidden version `ff` or all-zero ids (the spec says to ignore those).
 */
export const parseTraceparent = (value: string): Option.Option<TraceParent> => {
  const plain = parsePlainVersion00(value)
  if (plain !== undefined) return plain
  const match = pattern.exec(value.trim())
  if (match === null) return Option.none()
  const [, version, traceId, spanId, flags, rest] = match
  if (version === undefined || traceId === undefined || spanId === undefined || flags === undefined) return Option.none()
  // Version 00 has exactly four fields; later versions may append more.
  if (version === "ff" || (version === "00" && rest !== undefined)) return Option.none()
  if (traceId === zeroTrace || spanId === zeroSpan) return Option.none()
  return Option.some({ traceId, spanId, sampled: (Number.parseInt(flags, 16) & 1) === 1 })
}

// Lower-case hex digits: what every valid id and flags field is made of.
const isHexRange = (value: string, start: number, end: number): boolean => {
  for (let i = start; i < end; i++) {
    const c = value.charCodeAt(i)
    if (!((c >= 48 && c <= 57) || (c >= 97 && c <= 102))) return false
  }
  return true
}

const isZeroRange = (value: string, start: number, end: number): boolean => {
  for (let i = start; i < end; i++) if (value.charCodeAt(i) !== 48) return false
  return true
}

/**
 * The common case without a regex: exactly `00-<32 hex>-<16 hex>-<2 hex>`
 * (what every sender here writes). Anything else is `undefined` and left to
 * the general parser, which gives the same answer for this shape.
 */
const parsePlainVersion00 = (value: string): Option.Option<TraceParent> | undefined => {
  if (
    value.length !== 55 ||
    value.charCodeAt(0) !== 48 ||
    value.charCodeAt(1) !== 48 ||
    value.charCodeAt(2) !== 45 ||
    value.charCodeAt(35) !== 45 ||
    value.charCodeAt(52) !== 45 ||
    !isHexRange(value, 3, 35) ||
    !isHexRange(value, 36, 52) ||
    !isHexRange(value, 53, 55)
  )
    return undefined
  if (isZeroRange(value, 3, 35) || isZeroRange(value, 36, 52)) return Option.none()
  return Option.some({
    traceId: value.slice(3, 35),
    spanId: value.slice(36, 52),
    sampled: (Number.parseInt(value.slice(53, 55), 16) & 1) === 1
  })
}

/** Headers carrying the current span (`{}` outside any span); merge them into every outgoing message. */
export const traceHeaders: Effect.Effect<Record<string, string>> = Effect.currentParentSpan.pipe(
  Effect.map((span): Record<string, string> => ({ [TraceparentHeader]: formatTraceparent(span) })),
  Effect.orElseSucceed((): Record<string, string> => ({}))
)

/** The remote span named by a message's headers, if any. */
export const remoteSpan = (headers: Readonly<Record<string, string>>): Option.Option<Tracer.ExternalSpan> => {
  const value = headers[TraceparentHeader]
  if (value === undefined) return Option.none()
  return Option.map(parseTraceparent(value), (parent) => Tracer.externalSpan(parent))
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
