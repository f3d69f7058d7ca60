/**
 * Everything a service gives its operators, as one layer to provide under
 * the service's own: traces and metrics exported as the OpenTelemetry
 * variables say (`Tracing`, `MetricsExport`), the readiness checks its parts
 * register (`Readiness`), and, with an HTTP port, `/healthz`, `/readyz` and
 * `/metrics` on it (`HealthServer`).
 */
import { Layer, Option } from "effect"
import { Readiness } from "@switchyard/bus/Readiness"
import * as HealthServer from "./HealthServer.ts"
import * as MetricsExport from "./MetricsExport.ts"
import * as Tracing from "./Tracing.ts"

/** What a service's telemetry needs to know. */
export interface TelemetryOptions {
  /** The service, e.g. `scheduler`; `service.name` is `switchyard-<service>` unless `OTEL_SERVICE_NAME` says otherwise. */
  readonly service: string
  /** The port of `/healthz`, `/readyz` and `/metrics`; none serves no HTTP (0 takes a free port). */
  readonly httpPort: Option.Option<number>
}

/** The service's telemetry; its readiness checks are registered by the layers built under it. */
export const layer = (options: TelemetryOptions) => {
  const http = Option.match(options.httpPort, {
    onNone: () => Layer.empty,
    onSome: (port) => HealthServer.layer(port)
  })
  const metrics = MetricsExport.layer(options.service, { scrape: Option.isSome(options.httpPort) })
  return Layer.mergeAll(Tracing.layer(options.service), http.pipe(Layer.provideMerge(metrics))).pipe(Layer.provideMerge(Readiness.layer))
}
