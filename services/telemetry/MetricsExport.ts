/**
 * The process's Effect metrics, handed to OpenTelemetry metric readers: a
 * Prometheus reader whose text the service's `/metrics` serves (when the
 * service has an HTTP port), and a periodic OTLP exporter when the
 * environment names an endpoint (`OTEL_EXPORTER_OTLP_PROTOCOL` picks the
 * transport; `OTEL_METRIC_EXPORT_INTERVAL` the period, 60 s by default).
 * With neither, nothing is loaded. The readers shut down, flushing the last
 * figures, when the layer ends.
 */
import type { IncomingMessage, ServerResponse } from "node:http"
import { Config, Context, Effect, Layer, Option } from "effect"
import type { PushMetricExporter } from "@opentelemetry/sdk-metrics"
import { defaultServiceName } from "./Tracing.ts"
import { type OtlpProtocol, telemetrySettings } from "./TelemetryConfig.ts"

/** Answers a scrape with the metrics in Prometheus's text format. */
export type ScrapeHandler = (request: IncomingMessage, response: ServerResponse) => void

/** The Prometheus reader's handler, when the service serves `/metrics`. */
export class MetricsScrape extends Context.Service<MetricsScrape, Option.Option<ScrapeHandler>>()("switchyard/telemetry/MetricsScrape") {}

const otlpExporter = (protocol: OtlpProtocol): Promise<PushMetricExporter> => {
  switch (protocol) {
    case "http/json":
      return import("@opentelemetry/exporter-metrics-otlp-http").then((module) => new module.OTLPMetricExporter())
    case "grpc":
      return import("@opentelemetry/exporter-metrics-otlp-grpc").then((module) => new module.OTLPMetricExporter())
    case "http/protobuf":
      return import("@opentelemetry/exporter-metrics-otlp-proto").then((module) => new module.OTLPMetricExporter())
  }
}

/** Metrics exported as the environment says; `scrape` adds the Prometheus reader. */
export const layer = (service: string, options: { readonly scrape: boolean }): Layer.Layer<MetricsScrape, Config.ConfigError> =>
  Layer.unwrap(
    Effect.gen(function* () {
      const settings = yield* telemetrySettings
      if (!options.scrape && Option.isNone(settings.otlpMetrics)) return Layer.succeed(MetricsScrape, Option.none())
      const interval = yield* Config.Int("OTEL_METRIC_EXPORT_INTERVAL").pipe(Config.withDefault(60_000))
      const timeout = yield* Config.Int("OTEL_METRIC_EXPORT_TIMEOUT").pipe(Config.withDefault(30_000))
      const named = yield* Config.option(Config.String("OTEL_SERVICE_NAME"))
      const [{ OtelMetrics, Resource }, { PeriodicExportingMetricReader }, { PrometheusExporter }] = yield* Effect.promise(() =>
        Promise.all([import("@effect/opentelemetry"), import("@opentelemetry/sdk-metrics"), import("@opentelemetry/exporter-prometheus")])
      )
      const prometheus = options.scrape ? new PrometheusExporter({ preventServerStart: true }) : undefined
      const protocol = Option.getOrUndefined(settings.otlpMetrics)
      const otlp =
        protocol !== undefined
          ? new PeriodicExportingMetricReader({
              exporter: yield* Effect.promise(() => otlpExporter(protocol)),
              exportIntervalMillis: interval,
              exportTimeoutMillis: Math.min(timeout, interval)
            })
          : undefined
      const readers = [prometheus, otlp].filter((reader) => reader !== undefined)
      const resource = Resource.layerFromEnv(Option.isSome(named) ? undefined : { "service.name": defaultServiceName(service) })
      return Layer.merge(
        OtelMetrics.layer(() => readers as [(typeof readers)[0], ...typeof readers]).pipe(Layer.provide(resource)),
        Layer.succeed(
          MetricsScrape,
          Option.fromNullishOr(prometheus).pipe(
            Option.map(
              (exporter): ScrapeHandler =>
                (request, response) =>
                  exporter.getMetricsRequestHandler(request, response)
            )
          )
        )
      )
    })
  )
