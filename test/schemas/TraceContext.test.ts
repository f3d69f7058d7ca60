import { assert, describe, it } from "@effect/vitest"
import { Effect, Option } from "effect"
import { remoteSpan, TraceparentHeader, traceHeaders, withParentFrom } from "../../schemas/TraceContext.ts"

const traceId = "4bf92f3577b34da6a3ce929d0e0e4736"
const spanId = "00f067aa0ba902b7"

describe("TraceContext", () => {
  it.effect("puts the current span's trace and span ids into a traceparent header", () =>
    Effect.gen(function* () {
      const span = yield* Effect.currentSpan
      const headers = yield* traceHeaders
      assert.strictEqual(headers[TraceparentHeader], `00-${span.traceId}-${span.spanId}-${span.sampled ? "01" : "00"}`)
    }).pipe(Effect.withSpan("sender"))
  )

  it.effect("sends no trace header outside any span", () =>
    Effect.gen(function* () {
      assert.deepStrictEqual(yield* traceHeaders, {})
    })
  )

  it.effect("makes spans run under withParentFrom children of the remote span", () =>
    Effect.gen(function* () {
      const headers = { [TraceparentHeader]: `00-${traceId}-${spanId}-01` }
      const span = yield* Effect.currentSpan.pipe(Effect.withSpan("receiver"), withParentFrom(headers))
      assert.strictEqual(span.traceId, traceId)
      const parent = Option.getOrUndefined(span.parent)
      assert.strictEqual(parent?.spanId, spanId)
      assert.strictEqual(parent?._tag, "ExternalSpan")
    })
  )

  it.effect("carries one trace id from a sender's span through the header to the receiver's spans", () =>
    Effect.gen(function* () {
      const sent = yield* Effect.gen(function* () {
        const span = yield* Effect.currentSpan
        return { traceId: span.traceId, headers: yield* traceHeaders }
      }).pipe(Effect.withSpan("publish"))
      const received = yield* Effect.currentSpan.pipe(Effect.withSpan("handle"), withParentFrom(sent.headers))
      assert.strictEqual(received.traceId, sent.traceId)
      // The receiver's own header names its span, in the same trace.
      const forwarded = yield* traceHeaders.pipe(Effect.withSpan("forward"), withParentFrom(sent.headers))
      assert.isTrue(forwarded[TraceparentHeader]?.includes(sent.traceId))
    })
  )

  it.effect("forwards the remote span itself when the receiver opened no span of its own", () =>
    Effect.gen(function* () {
      const header = `00-${traceId}-${spanId}-01`
      const headers = yield* traceHeaders.pipe(withParentFrom({ [TraceparentHeader]: header }))
      assert.strictEqual(headers[TraceparentHeader], header)
    })
  )

  it.effect("starts a fresh trace when the incoming header is missing or malformed", () =>
    Effect.gen(function* () {
      for (const headers of [{}, { [TraceparentHeader]: "garbage" }, { [TraceparentHeader]: `00-${"0".repeat(32)}-${spanId}-01` }]) {
        const span = yield* Effect.currentSpan.pipe(Effect.withSpan("receiver"), withParentFrom(headers))
        assert.notStrictEqual(span.traceId, traceId)
        assert.isTrue(Option.isNone(span.parent))
      }
    })
  )

  it("reads a traceparent by the W3C rules: version 00, lower-case ids that are not all zeros, the sampled bit of the flags", () => {
    const parent = (value: string) =>
      Option.map(remoteSpan({ [TraceparentHeader]: value }), (span) => [span.traceId, span.spanId, span.sampled])
    assert.deepStrictEqual(parent(`00-${traceId}-${spanId}-01`), Option.some([traceId, spanId, true]))
    assert.deepStrictEqual(parent(`00-${traceId}-${spanId}-00`), Option.some([traceId, spanId, false]))
    for (const value of [
      `00-${traceId}-${"0".repeat(16)}-01`,
      `00-${traceId}-${spanId}-01-extra`,
      `00-${traceId}-${spanId}-0g`,
      `00-${traceId.slice(1)}-${spanId}-01`,
      `00-${"0".repeat(32)}-${"0".repeat(16)}-01`
    ]) {
      assert.isTrue(Option.isNone(parent(value)), value)
    }
  })
})
