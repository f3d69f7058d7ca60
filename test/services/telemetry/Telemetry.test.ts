import { assert, describe, it } from "@effect/vitest"
import { ConfigProvider, Effect, Logger, Option } from "effect"
import { formatJsonWithTrace } from "../../../services/telemetry/Logs.ts"
import { telemetrySettings } from "../../../services/telemetry/TelemetryConfig.ts"

const settingsWith = (env: Record<string, string>) =>
  Effect.provide(
    Effect.gen(function* () {
      return yield* telemetrySettings
    }),
    ConfigProvider.layer(ConfigProvider.fromEnv({ env }))
  )

describe("telemetry settings from the OTEL variables", () => {
  it.effect("export nothing without an endpoint, and nothing at all when the SDK is disabled", () =>
    Effect.gen(function* () {
      assert.deepStrictEqual(yield* settingsWith({}), { traces: false, otlpMetrics: Option.none() })
      const disabled = yield* settingsWith({ OTEL_EXPORTER_OTLP_ENDPOINT: "http://collector:4318", OTEL_SDK_DISABLED: "true" })
      assert.deepStrictEqual(disabled, { traces: false, otlpMetrics: Option.none() })
    })
  )

  it.effect("export traces and metrics over the endpoint, with its protocol (http/protobuf by default)", () =>
    Effect.gen(function* () {
      const both = yield* settingsWith({ OTEL_EXPORTER_OTLP_ENDPOINT: "http://collector:4318" })
      assert.deepStrictEqual(both, { traces: true, otlpMetrics: Option.some("http/protobuf") })
      const json = yield* settingsWith({ OTEL_EXPORTER_OTLP_ENDPOINT: "http://collector:4318", OTEL_EXPORTER_OTLP_PROTOCOL: "http/json" })
      assert.deepStrictEqual(json.otlpMetrics, Option.some("http/json"))
      const tracesOnly = yield* settingsWith({ OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: "http://collector:4318/v1/traces" })
      assert.deepStrictEqual(tracesOnly, { traces: true, otlpMetrics: Option.none() })
      const noMetrics = yield* settingsWith({ OTEL_EXPORTER_OTLP_ENDPOINT: "http://collector:4318", OTEL_METRICS_EXPORTER: "none" })
      assert.deepStrictEqual(noMetrics, { traces: true, otlpMetrics: Option.none() })
      const noTraces = yield* settingsWith({ OTEL_EXPORTER_OTLP_ENDPOINT: "http://collector:4318", OTEL_TRACES_EXPORTER: "none" })
      assert.isFalse(noTraces.traces)
    })
  )

  it.effect("refuses a protocol it does not speak, naming the variable", () =>
    Effect.gen(function* () {
      const error = yield* Effect.flip(
        settingsWith({ OTEL_EXPORTER_OTLP_ENDPOINT: "http://collector:4318", OTEL_EXPORTER_OTLP_PROTOCOL: "carrier-pigeon" })
      )
      assert.include(String(error), "OTEL_EXPORTER_OTLP_PROTOCOL")
    })
  )
})

describe("JSON log lines", () => {
  it.effect("carry the trace and span they were written in, and none outside a span", () =>
    Effect.gen(function* () {
      const lines: Array<Record<string, unknown>> = []
      const capture = Logger.map(formatJsonWithTrace, (line) => void lines.push(JSON.parse(line)))
      const span = yield* Effect.gen(function* () {
        yield* Effect.logInfo("inside")
        return yield* Effect.currentSpan
      }).pipe(Effect.withSpan("work"), Effect.provide(Logger.layer([capture])))
      yield* Effect.logInfo("outside").pipe(Effect.provide(Logger.layer([capture])))
      assert.deepStrictEqual(
        lines.map((line) => [line.message, line.trace_id, line.span_id, line.level]),
        [
          ["inside", span.traceId, span.spanId, "INFO"],
          ["outside", undefined, undefined, "INFO"]
        ]
      )
    })
  )
})
