/**
 * A plugin process's own spans. The executor hands each task its trace
 * context (`TRACEPARENT`) and, when it exports traces, where to
 * (`OTEL_EXPORTER_OTLP_ENDPOINT` or `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`,
 * `OTEL_EXPORTER_OTLP_PROTOCOL`, `OTEL_SERVICE_NAME`): the action then runs
 * in a span `action <name>` that continues the task's trace, with whatever
 * spans the action opens inside it, exported over OTLP/HTTP by Effect's own
 * exporter (nothing more to load) and flushed before the result is written.
 * Every form of the task's secrets is masked out of the spans before they
 * are serialized, as the executor masks its own. Without an endpoint, or
 * with `grpc` (not spoken here), the action runs as it is and no span leaves
 * the process.
 */
import { Effect, Layer, Redacted } from "effect"
import type { OtlpExporter, OtlpTracer as OtlpTracerModule } from "effect/observability"
import { type Mask, makeMasker, maskValue } from "@switchyard/schemas/SecretMask"
import { withParentFrom } from "@switchyard/schemas/TraceContext"

const env = (name: string): string | undefined => {
  const value = process.env[name]?.trim()
  return value === undefined || value === "" ? undefined : value
}

/** Where spans go, from the environment the executor set; undefined when nowhere. */
const tracesUrl = (): string | undefined => {
  if (env("OTEL_SDK_DISABLED") === "true") return undefined
  const explicit = env("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
  if (explicit !== undefined) return explicit
  const base = env("OTEL_EXPORTER_OTLP_ENDPOINT")
  return base === undefined ? undefined : `${base.replace(/\/+$/, "")}/v1/traces`
}

type Protocol = "http/json" | "http/protobuf"

/** The exporter, loaded only by a process that exports. */
const exporter = (url: string, protocol: Protocol, mask: Mask): Effect.Effect<Layer.Layer<OtlpExporter.Flusher>> =>
  Effect.promise(() => Promise.all([import("effect/observability"), import("effect/http")])).pipe(
    Effect.map(([{ OtlpSerialization, OtlpTracer }, { FetchHttpClient }]) => {
      // The spans are masked as data, before either encoding.
      const serialization = Layer.effect(
        OtlpSerialization.OtlpSerialization,
        Effect.map(Effect.service(OtlpSerialization.OtlpSerialization), (inner) =>
          OtlpSerialization.OtlpSerialization.of({
            ...inner,
            traces: (data) => inner.traces(maskValue(data, mask) as OtlpTracerModule.TraceData)
          })
        )
      ).pipe(Layer.provide(protocol === "http/json" ? OtlpSerialization.layerJson : OtlpSerialization.layerProtobuf))
      return OtlpTracer.layer({
        url,
        resource: { serviceName: env("OTEL_SERVICE_NAME") ?? "switchyard-plugin" },
        // Flushed when the task's layer closes; nothing is sent on a timer meanwhile.
        exportInterval: "1 hour"
      }).pipe(Layer.provide(serialization), Layer.provide(FetchHttpClient.layer))
    })
  )

/** Runs an action of a task in its span, exported as the environment says. */
export const traceAction =
  (options: {
    readonly action: string
    readonly taskId: string
    readonly runId: string
    readonly attempt: number
    readonly secrets: Readonly<Record<string, string>> | undefined
  }) =>
  <A, E>(effect: Effect.Effect<A, E>): Effect.Effect<A, E> => {
    const url = tracesUrl()
    const protocol = env("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL") ?? env("OTEL_EXPORTER_OTLP_PROTOCOL") ?? "http/protobuf"
    if (url === undefined || (protocol !== "http/json" && protocol !== "http/protobuf")) return effect
    const traceparent = env("TRACEPARENT")
    const traced = effect.pipe(
      Effect.withSpan(`action ${options.action}`, {
        attributes: {
          "switchyard.task.id": options.taskId,
          "switchyard.run.id": options.runId,
          "switchyard.attempt": options.attempt
        }
      }),
      withParentFrom(traceparent === undefined ? {} : { traceparent })
    )
    const mask = makeMasker(Object.values(options.secrets ?? {}).map((value) => Redacted.make(value)))
    return Effect.flatMap(exporter(url, protocol, mask), (layer) => Effect.provide(traced, layer))
  }
