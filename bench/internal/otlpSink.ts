/**
 * A stand-in for an OpenTelemetry Collector: a node:http server on a free
 * local port that answers 200 (an empty OTLP response) to every request and
 * keeps what it was sent, so the telemetry benchmark can say how many trace
 * and metric exports each sender made and how many spans they held (a
 * sender is told an endpoint under its own path, so every request names
 * it).
 * Bodies are kept as received and only parsed when asked (between
 * measurements), so the sink's own work while a measurement runs is
 * receiving bytes, as a collector's would be.
 */
import { createServer } from "node:http"
import type { AddressInfo } from "node:net"

/** What the sink received from one sender. */
export interface SinkCounts {
  /** POSTs to `<sender>/v1/traces`. */
  readonly traceRequests: number
  /** POSTs to `<sender>/v1/metrics`. */
  readonly metricRequests: number
  /** Requests to any other path. */
  readonly otherRequests: number
  /** Body bytes of every request. */
  readonly bytes: number
  /** Spans in the trace bodies (OTLP protobuf). */
  readonly spans: number
}

/** No requests at all. */
export const noCounts: SinkCounts = { traceRequests: 0, metricRequests: 0, otherRequests: 0, bytes: 0, spans: 0 }

/** Adds two counts. */
export const addCounts = (a: SinkCounts, b: SinkCounts): SinkCounts => ({
  traceRequests: a.traceRequests + b.traceRequests,
  metricRequests: a.metricRequests + b.metricRequests,
  otherRequests: a.otherRequests + b.otherRequests,
  bytes: a.bytes + b.bytes,
  spans: a.spans + b.spans
})

/** A running sink. */
export interface OtlpSink {
  /**
   * The base URL for `OTEL_EXPORTER_OTLP_ENDPOINT` of one sender: the
   * exporters append `/v1/traces` or `/v1/metrics` to its path, so every
   * request says who sent it.
   */
  readonly endpoint: (sender: string) => string
  /** What arrived since the last call, by sender (`""` for a request under no sender's path), parsed now; forgets it. */
  readonly take: () => ReadonlyMap<string, SinkCounts>
  readonly close: () => Promise<void>
}

/** Calls `visit` for each field of the protobuf message in `buffer[start, end)`; length-delimited fields get their bounds. */
const fields = (buffer: Buffer, start: number, end: number, visit: (field: number, from: number, to: number) => void): void => {
  let at = start
  const varint = (): number => {
    let value = 0
    let shift = 0
    for (;;) {
      const byte = buffer[at++]!
      value += (byte & 0x7f) * 2 ** shift
      if (byte < 0x80) return value
      shift += 7
    }
  }
  while (at < end) {
    const key = varint()
    const field = Math.floor(key / 8)
    switch (key & 7) {
      case 0:
        varint()
        break
      case 1:
        at += 8
        break
      case 2: {
        const length = varint()
        visit(field, at, at + length)
        at += length
        break
      }
      case 5:
        at += 4
        break
      default:
        throw new Error(`OTLP body: unsupported protobuf wire type ${key & 7} at byte ${at}`)
    }
  }
}

/**
 * Spans in an `ExportTraceServiceRequest`: `resource_spans` (1) hold
 * `scope_spans` (2), which hold `spans` (2).
 */
export const countSpans = (body: Buffer): number => {
  let spans = 0
  fields(body, 0, body.length, (field, from, to) => {
    if (field !== 1) return
    fields(body, from, to, (field, from, to) => {
      if (field !== 2) return
      fields(body, from, to, (field) => {
        if (field === 2) spans++
      })
    })
  })
  return spans
}

interface Received {
  readonly sender: string
  readonly kind: "traces" | "metrics" | "other"
  readonly body: Buffer
}

const signalPath = /^\/(?:([^/]+)\/)?v1\/(traces|metrics)$/

/** Starts a sink on 127.0.0.1 and a free port. */
export const startOtlpSink = async (): Promise<OtlpSink> => {
  let received: Array<Received> = []
  const server = createServer((request, response) => {
    const chunks: Array<Buffer> = []
    request.on("data", (chunk: Buffer) => chunks.push(chunk))
    request.on("end", () => {
      const match = request.method === "POST" ? signalPath.exec((request.url ?? "/").split("?")[0]!) : null
      received.push({
        sender: match?.[1] ?? "",
        kind: match === null ? "other" : (match[2] as "traces" | "metrics"),
        body: Buffer.concat(chunks)
      })
      response.writeHead(200, { "content-type": "application/x-protobuf" })
      response.end()
    })
  })
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject)
    server.listen(0, "127.0.0.1", () => {
      server.off("error", reject)
      resolve()
    })
  })
  const { port } = server.address() as AddressInfo
  return {
    endpoint: (sender) => `http://127.0.0.1:${port}/${sender}`,
    take: () => {
      const bySender = new Map<string, SinkCounts>()
      for (const { body, kind, sender } of received) {
        bySender.set(
          sender,
          addCounts(bySender.get(sender) ?? noCounts, {
            traceRequests: kind === "traces" ? 1 : 0,
            metricRequests: kind === "metrics" ? 1 : 0,
            otherRequests: kind === "other" ? 1 : 0,
            bytes: body.length,
            spans: kind === "traces" ? countSpans(body) : 0
          })
        )
      }
      received = []
      return bySender
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve())
        server.closeAllConnections()
      })
  }
}
