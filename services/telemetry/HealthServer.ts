/**
 * A service's HTTP port for its operators: `/healthz` (the process is alive
 * and its event loop answers), `/readyz` (every readiness check passes:
 * connected to NATS, streams, consumers and buckets in place, the service
 * serving; 503 with the failing checks otherwise) and `/metrics` (the
 * Prometheus text of the service's metrics). Listens on all interfaces, so
 * probes and scrapers reach it in a container; port 0 takes a free port,
 * which the log line names.
 */
import { createServer, type Server } from "node:http"
import type { AddressInfo } from "node:net"
import { Effect, Layer, Option, Schema } from "effect"
import { Readiness } from "@switchyard/bus/Readiness"
import { MetricsScrape } from "./MetricsExport.ts"

/** The HTTP port could not be opened. */
export class HealthServerError extends Schema.TaggedError<HealthServerError>()("HealthServerError", {
  port: Schema.Number,
  message: Schema.String
}) {}

const json = (status: number, body: unknown) => ({ status, type: "application/json", text: `${JSON.stringify(body)}\n` })

/** Serves the three endpoints on `port` for as long as the layer lives. */
export const layer = (port: number): Layer.Layer<never, HealthServerError, Readiness | MetricsScrape> =>
  Layer.effectDiscard(
    Effect.gen(function* () {
      const readiness = yield* Readiness
      const scrape = yield* MetricsScrape
      const context = yield* Effect.context<never>()
      const ready = (respond: (answer: ReturnType<typeof json>) => void) =>
        Effect.runForkWith(context)(
          readiness.report.pipe(
            Effect.map((report) => json(report.ready ? 200 : 503, report)),
            Effect.tap((answer) => Effect.sync(() => respond(answer)))
          )
        )
      const server = createServer((request, response) => {
        const path = (request.url ?? "/").split("?")[0]
        const send = (answer: ReturnType<typeof json>) => {
          response.writeHead(answer.status, { "content-type": answer.type })
          response.end(request.method === "HEAD" ? undefined : answer.text)
        }
        if (request.method !== "GET" && request.method !== "HEAD") return send(json(405, { error: "only GET and HEAD" }))
        if (path === "/healthz") return send(json(200, { alive: true }))
        if (path === "/readyz") return void ready(send)
        if (path === "/metrics" && Option.isSome(scrape)) return scrape.value(request, response)
        return send(json(404, { error: `no such endpoint: ${path}; try /healthz, /readyz or /metrics` }))
      })
      const bound = yield* Effect.acquireRelease(
        Effect.callback<Server, HealthServerError>((resume) => {
          const failed = (error: Error) =>
            resume(
              Effect.fail(
                new HealthServerError({
                  port,
                  message: `cannot serve /healthz, /readyz and /metrics on port ${port} (--http-port, SWITCHYARD_HTTP_PORT): ${error.message}`
                })
              )
            )
          server.once("error", failed)
          server.listen(port, () => {
            server.off("error", failed)
            resume(Effect.succeed(server))
          })
        }),
        (server) =>
          Effect.callback<void>((resume) => {
            server.close(() => resume(Effect.void))
            server.closeAllConnections()
          })
      )
      const actual = (bound.address() as AddressInfo).port
      yield* Effect.logInfo(`serving /healthz, /readyz and /metrics on port ${actual}`, { httpPort: actual })
    })
  )
