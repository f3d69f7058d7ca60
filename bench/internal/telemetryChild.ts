/**
 * One configuration of the telemetry benchmark as a process of its own
 * (forked by `telemetryOverhead.ts` with an IPC channel), so the
 * OpenTelemetry SDK's process-wide state, its heap and its exporters belong
 * to that configuration alone, and the environment the parent gave the
 * process is all the telemetry layers can read. It builds the durable
 * deployment (with or without the telemetry layers, as its argument says),
 * reports what it installed, then measures a round each time the parent
 * asks: sequential runs, then runs with many in flight, each followed by a
 * flush of the span processors (timed after the concurrent part, whose
 * throughput then includes exporting what it traced), with the process's
 * CPU time over the concurrent part: the cost per run that machine load
 * skews least.
 *
 * `node telemetryChild.ts '<ChildArguments as JSON>'`
 */
import { Config, Effect, ManagedRuntime, Option, Tracer } from "effect"
import { trace } from "@opentelemetry/api"
import { SwitchyardClient } from "../../sdk/client.ts"
import { telemetrySettings } from "../../services/telemetry/TelemetryConfig.ts"
import { durable, type ServicePorts } from "./deployment.ts"
import type { RawPlan, ScenarioResult } from "./rawNats.ts"
import { concurrentEffect, sequentialEffect } from "./stats.ts"
import { noopPipeline, runToEnd } from "./switchyardRuns.ts"

/** What the parent passes as the one argument. */
export interface ChildArguments {
  readonly url: string
  readonly prefix: string
  readonly slots: number
  readonly resultConcurrency: number
  /** Build the services under their telemetry, with these HTTP ports; none builds them without it. */
  readonly httpPorts: ServicePorts | null
}

/** What the process installed, as it sees it. */
export interface ChildEvidence {
  /** `OTEL_EXPORTER_OTLP_ENDPOINT` as the services' `Config` reads it. */
  readonly endpoint: string | null
  /** Whether the telemetry settings start the SDK for traces. */
  readonly tracesFromEnv: boolean
  /** The tracer the client's submit runs under. */
  readonly clientTracer: "Effect native" | "OpenTelemetry"
  /** The class behind OpenTelemetry's global tracer provider (`NoopTracerProvider` when no SDK started). */
  readonly globalTracerProvider: string
}

/** One round's figures. */
export interface ChildRound extends ScenarioResult {
  /** Milliseconds the span processors took to flush after the concurrent part. */
  readonly flushMs: number
  /** Runs submitted in the round, warm-ups included. */
  readonly runs: number
  /** CPU time (user and system) of this process over the concurrent part, its warm-up and the flush after it, in milliseconds. */
  readonly concurrentCpuMs: number
  /** Runs in that CPU time. */
  readonly concurrentRuns: number
}

/** Parent to child. */
export type ToChild = { readonly type: "round"; readonly plan: RawPlan } | { readonly type: "stop" }

/** Child to parent. */
export type FromChild =
  | { readonly type: "ready"; readonly evidence: ChildEvidence }
  | { readonly type: "round"; readonly result: ChildRound }
  | { readonly type: "failed"; readonly message: string }

const send = (message: FromChild) => process.send!(message)

const args = JSON.parse(process.argv[2] ?? "null") as ChildArguments | null
if (args === null || process.send === undefined) {
  process.stderr.write("usage: forked with an IPC channel, one argument: the ChildArguments as JSON\n")
  process.exit(2)
}

const runtime = ManagedRuntime.make(
  durable(
    args.url,
    { prefix: args.prefix, slots: args.slots, resultConcurrency: args.resultConcurrency },
    args.httpPorts === null ? undefined : { httpPorts: args.httpPorts }
  )
)

/** Flushes the global tracer provider's span processors, when an SDK installed one. */
const flushSpans = (): Promise<void> => {
  const provider = trace.getTracerProvider() as { getDelegate?: () => { forceFlush?: () => Promise<void> } }
  const delegate = provider.getDelegate?.()
  return delegate?.forceFlush === undefined ? Promise.resolve() : delegate.forceFlush()
}

const globalProviderName = (): string => {
  const provider = trace.getTracerProvider() as { getDelegate?: () => object }
  return (provider.getDelegate?.() ?? provider).constructor.name
}

const evidence = Effect.gen(function* () {
  yield* SwitchyardClient
  const settings = yield* telemetrySettings
  const endpoint = yield* Config.option(Config.String("OTEL_EXPORTER_OTLP_ENDPOINT"))
  const tracer = yield* Tracer.Tracer
  return {
    endpoint: Option.getOrNull(endpoint),
    tracesFromEnv: settings.traces,
    clientTracer: tracer === Tracer.nativeTracer ? "Effect native" : "OpenTelemetry",
    globalTracerProvider: globalProviderName()
  } satisfies ChildEvidence
})

const round = (plan: RawPlan) =>
  Effect.gen(function* () {
    const client = yield* SwitchyardClient
    const pipeline = noopPipeline(1)
    let runs = 0
    const once = Effect.suspend(() => {
      runs++
      return runToEnd(client, pipeline)
    })
    const sequential = yield* sequentialEffect(plan.sequential, once)
    yield* Effect.promise(flushSpans)
    const runsBefore = runs
    const cpuBefore = process.cpuUsage()
    const concurrent = yield* concurrentEffect(plan.concurrent, once)
    const started = performance.now()
    yield* Effect.promise(flushSpans)
    const flushMs = performance.now() - started
    const cpu = process.cpuUsage(cpuBefore)
    return {
      sequential,
      concurrent,
      flushMs,
      runs,
      concurrentCpuMs: (cpu.user + cpu.system) / 1000,
      concurrentRuns: runs - runsBefore
    } satisfies ChildRound
  })

const message = (error: unknown) => (error instanceof Error ? error.message : String(error)).split("\n")[0]!

try {
  send({ type: "ready", evidence: await runtime.runPromise(evidence) })
} catch (error) {
  send({ type: "failed", message: `building the deployment: ${message(error)}` })
  process.exit(1)
}

process.on("message", (request: ToChild) => {
  if (request.type === "stop") {
    void runtime.dispose().finally(() => process.disconnect())
    return
  }
  runtime.runPromise(round(request.plan)).then(
    (result) => send({ type: "round", result }),
    (error: unknown) => send({ type: "failed", message: message(error) })
  )
})
