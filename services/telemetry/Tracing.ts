/**
 * Traces through the OpenTelemetry Node SDK, bridged to Effect's spans: when
 * the environment configures a traces exporter (an OTLP endpoint, usually),
 * the SDK starts with what the standard variables say (exporter and its
 * protocol, sampler, resource) and every Effect span of the process becomes
 * an OpenTelemetry span, W3C ids and all, so the `traceparent` headers on the
 * bus continue one trace across processes. Without such a variable nothing
 * is loaded and Effect's own tracer stays: no exporter, no cost. Spans still
 * buffered when the process stops are flushed.
 */
import { Config, Effect, Layer, Option, Tracer } from "effect"
import { telemetrySettings } from "./TelemetryConfig.ts"

/** `service.name` when the environment does not name the service. */
export const defaultServiceName = (service: string) => `switchyard-${service}`

/** Traces exported as the environment says, for as long as the layer lives. */
export const layer = (service: string): Layer.Layer<unknown, Config.ConfigError> =>
  Layer.unwrap(
    Effect.gen(function* () {
      const settings = yield* telemetrySettings
      if (!settings.traces) return Layer.empty as Layer.Layer<unknown>
      const named = yield* Config.option(Config.String("OTEL_SERVICE_NAME"))
      const [{ NodeSDK }, OtelTracer] = yield* Effect.promise(() =>
        Promise.all([import("@opentelemetry/sdk-node"), import("@effect/opentelemetry/OtelTracer")])
      )
      yield* Effect.acquireRelease(
        Effect.sync(() => {
          const sdk = new NodeSDK({
            ...(Option.isSome(named) ? {} : { serviceName: defaultServiceName(service) }),
            // Metrics go through the metrics layer; logs are JSON lines on stderr.
            metricReaders: [],
            logRecordProcessors: [],
            instrumentations: []
          })
          sdk.start()
          return sdk
        }),
        (sdk) => Effect.promise(() => sdk.shutdown().catch(() => undefined)).pipe(Effect.timeoutOption("5 seconds"))
      )
      // Effect's spans become OpenTelemetry spans. Without the bridge's per-step context hook: it would
      // enter an OpenTelemetry context on every step of every traced fiber for instrumentations, and
      // none is installed (parents come from the fiber, and across processes from `traceparent`).
      return Layer.effect(
        Tracer.Tracer,
        Effect.map(OtelTracer.make, (tracer) => Tracer.make({ span: tracer.span }))
      ).pipe(Layer.provideMerge(OtelTracer.layerGlobalTracer)) as Layer.Layer<unknown>
    })
  )
