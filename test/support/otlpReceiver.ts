/**
 * An OTLP/HTTP receiver for tests: a real HTTP server on a free port that
 * takes what OpenTelemetry exporters post (`/v1/traces`, `/v1/metrics`,
 * `/v1/logs`) as OTLP JSON (`OTEL_EXPORTER_OTLP_PROTOCOL=http/json`), keeps
 * every body as it came, and decodes the spans with their service's name.
 * It stands in for a collector, the one part of the observability stack that
 * lies outside the processes under test.
 */
import { createServer } from "node:http"
import type { AddressInfo } from "node:net"
import { Effect, type Scope } from "effect"

/** A span as received, flattened. */
export interface ReceivedSpan {
  readonly service: string
  readonly traceId: string
  readonly spanId: string
  /** Empty for a root span. */
  readonly parentSpanId: string
  readonly name: string
  /** OTLP's numbers: 1 internal, 2 server, 3 client, 4 producer, 5 consumer. */
  readonly kind: number
  readonly attributes: Readonly<Record<string, unknown>>
  /** OTLP's status code: 0 unset, 1 ok, 2 error. */
  readonly statusCode: number
  readonly events: ReadonlyArray<{ readonly name: string; readonly attributes: Readonly<Record<string, unknown>> }>
}

/** What the receiver got so far. */
export interface OtlpReceiver {
  /** The base URL for `OTEL_EXPORTER_OTLP_ENDPOINT`. */
  readonly url: string
  readonly spans: () => ReadonlyArray<ReceivedSpan>
  /** Every body posted, by path, as text. */
  readonly bodies: () => ReadonlyArray<{ readonly path: string; readonly text: string }>
}

interface KeyValue {
  readonly key: string
  readonly value: Record<string, unknown>
}

const valueOf = (value: Record<string, unknown>): unknown => {
  if ("stringValue" in value) return value.stringValue
  if ("intValue" in value) return Number(value.intValue)
  if ("doubleValue" in value) return value.doubleValue
  if ("boolValue" in value) return value.boolValue
  if ("arrayValue" in value) return ((value.arrayValue as { values?: Array<Record<string, unknown>> }).values ?? []).map(valueOf)
  return value
}

const attributesOf = (list: ReadonlyArray<KeyValue> | undefined): Record<string, unknown> =>
  Object.fromEntries((list ?? []).map(({ key, value }) => [key, valueOf(value)]))

const decodeSpans = (text: string): Array<ReceivedSpan> => {
  const body = JSON.parse(text) as {
    resourceSpans?: Array<{
      resource?: { attributes?: Array<KeyValue> }
      scopeSpans?: Array<{ spans?: Array<Record<string, unknown>> }>
    }>
  }
  return (body.resourceSpans ?? []).flatMap((resource) => {
    const service = String(attributesOf(resource.resource?.attributes)["service.name"] ?? "")
    return (resource.scopeSpans ?? []).flatMap((scope) =>
      (scope.spans ?? []).map((span): ReceivedSpan => ({
        service,
        traceId: String(span.traceId ?? ""),
        spanId: String(span.spanId ?? ""),
        parentSpanId: String(span.parentSpanId ?? ""),
        name: String(span.name ?? ""),
        kind: Number(span.kind ?? 0),
        attributes: attributesOf(span.attributes as Array<KeyValue> | undefined),
        statusCode: Number((span.status as { code?: number } | undefined)?.code ?? 0),
        events: ((span.events as Array<{ name: string; attributes?: Array<KeyValue> }> | undefined) ?? []).map((event) => ({
          name: event.name,
          attributes: attributesOf(event.attributes)
        }))
      }))
    )
  })
}

/** Starts a receiver for as long as the scope lives. */
export const otlpReceiver: Effect.Effect<OtlpReceiver, never, Scope.Scope> = Effect.gen(function* () {
  const spans: Array<ReceivedSpan> = []
  const bodies: Array<{ path: string; text: string }> = []
  const server = createServer((request, response) => {
    const chunks: Array<Buffer> = []
    request.on("data", (chunk: Buffer) => chunks.push(chunk))
    request.on("end", () => {
      const path = (request.url ?? "/").split("?")[0]!
      const text = Buffer.concat(chunks).toString("utf8")
      bodies.push({ path, text })
      if (path === "/v1/traces" && text.startsWith("{")) spans.push(...decodeSpans(text))
      response.writeHead(200, { "content-type": "application/json" })
      response.end("{}")
    })
  })
  yield* Effect.acquireRelease(
    Effect.callback<void>((resume) => void server.listen(0, "127.0.0.1", () => resume(Effect.void))),
    () => Effect.callback<void>((resume) => void server.close(() => resume(Effect.void)))
  )
  const { port } = server.address() as AddressInfo
  return { url: `http://127.0.0.1:${port}`, spans: () => [...spans], bodies: () => [...bodies] }
})
