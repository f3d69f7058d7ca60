/**
 * What telemetry a service exports, read from the standard OpenTelemetry
 * variables only: traces when an OTLP endpoint (or another traces
 * exporter) is configured, OTLP metrics when an endpoint is, nothing of
 * either under `OTEL_SDK_DISABLED=true`. The exporters themselves read the
 * rest (`OTEL_EXPORTER_OTLP_HEADERS`, per-signal endpoints, timeouts), and
 * the resource comes from `OTEL_SERVICE_NAME` and `OTEL_RESOURCE_ATTRIBUTES`.
 */
import { Config, Option } from "effect"

/** The OTLP transports the exporters speak. */
export type OtlpProtocol = "http/protobuf" | "http/json" | "grpc"

/** What to export. */
export interface TelemetrySettings {
  /** Start the OpenTelemetry SDK for traces (it picks exporter, sampler and resource from the environment). */
  readonly traces: boolean
  /** Export metrics over OTLP, with this protocol; none when no endpoint is set. */
  readonly otlpMetrics: Option.Option<OtlpProtocol>
}

const protocols = ["http/protobuf", "http/json", "grpc"] as const

const optional = (name: string) => Config.option(Config.String(name))

const set = (value: Option.Option<string>) => Option.isSome(value) && value.value.trim() !== ""

/** The settings from the environment. */
export const telemetrySettings: Config.Config<TelemetrySettings> = Config.all({
  disabled: Config.Boolean("OTEL_SDK_DISABLED").pipe(Config.withDefault(false)),
  endpoint: optional("OTEL_EXPORTER_OTLP_ENDPOINT"),
  tracesEndpoint: optional("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"),
  metricsEndpoint: optional("OTEL_EXPORTER_OTLP_METRICS_ENDPOINT"),
  tracesExporter: optional("OTEL_TRACES_EXPORTER"),
  metricsExporter: optional("OTEL_METRICS_EXPORTER"),
  protocol: Config.option(Config.Literals(protocols, "OTEL_EXPORTER_OTLP_PROTOCOL")),
  metricsProtocol: Config.option(Config.Literals(protocols, "OTEL_EXPORTER_OTLP_METRICS_PROTOCOL"))
}).pipe(
  Config.map((env): TelemetrySettings => {
    if (env.disabled) return { traces: false, otlpMetrics: Option.none() }
    const tracesExporter = Option.getOrUndefined(env.tracesExporter)?.trim()
    const traces =
      tracesExporter === undefined || tracesExporter === ""
        ? set(env.endpoint) || set(env.tracesEndpoint)
        : tracesExporter.split(",").some((name) => name.trim() !== "none")
    const metricsOff =
      Option.getOrUndefined(env.metricsExporter)
        ?.split(",")
        .some((name) => name.trim() === "none") ?? false
    const metrics = !metricsOff && (set(env.endpoint) || set(env.metricsEndpoint))
    return {
      traces,
      otlpMetrics: metrics
        ? Option.some(
            Option.getOrElse(
              Option.orElse(env.metricsProtocol, () => env.protocol),
              () => "http/protobuf" as const
            )
          )
        : Option.none()
    }
  })
)
