/**
 * What telemetry costs on the durable dispatch path: the durable benchmark's
 * one-stage no-op run measured under three configurations on one
 * nats-server, each in a process of its own (`telemetryChild.ts`) with its
 * own streams: the services as the benchmark builds them, without any
 * telemetry layer (the baseline, measured twice as a control); each service
 * under `Telemetry.layer` with an HTTP port and no OpenTelemetry variable
 * (tracing off, Prometheus reader and `/metrics` on); and the same with
 * `OTEL_EXPORTER_OTLP_ENDPOINT` naming a local sink (`otlpSink.ts`) over
 * `http/protobuf` (tracing on).
 * The configurations take turns in rounds, the order rotated each round, so
 * a change in machine load lands on all three alike; a round's figures are
 * compared with the baseline's of the same round as well as by medians.
 * The sink's counts per round show which configuration exported what.
 */
import { fork } from "node:child_process"
import { createServer } from "node:net"
import type { AddressInfo } from "node:net"
import { join } from "node:path"
import { fileURLToPath } from "node:url"
import type { ServicePorts } from "./deployment.ts"
import type { RawPlan } from "./rawNats.ts"
import { addCounts, noCounts, type SinkCounts, startOtlpSink } from "./otlpSink.ts"
import type { ChildArguments, ChildEvidence, ChildRound, FromChild, ToChild } from "./telemetryChild.ts"

/**
 * The configurations, in the order the report lists them: the baseline
 * twice (the second one's difference from the first is what noise alone
 * does to a comparison on this machine at this time), tracing off, tracing on.
 */
export const configurations = [
  { key: "baseline", label: "1  no telemetry layer (baseline)", telemetry: false, traced: false },
  { key: "control", label: "1' no telemetry layer again (control)", telemetry: false, traced: false },
  { key: "off", label: "2  Telemetry.layer, no endpoint (tracing off, /metrics on)", telemetry: true, traced: false },
  { key: "on", label: "3  Telemetry.layer, OTLP endpoint (tracing on)", telemetry: true, traced: true }
] as const

/** Which configuration. */
export type ConfigurationKey = (typeof configurations)[number]["key"]

/** Rounds, and what each configuration runs once before them and in each. */
export interface TelemetryPlan {
  readonly rounds: number
  /** Write a V8 CPU profile of each configuration's process into `<cpuProfileDir>/<key>/`. */
  readonly cpuProfileDir?: string | undefined
  readonly warmup: RawPlan
  readonly round: RawPlan
}

/** One configuration's round. */
export type MeasuredRound = ChildRound

/** An HTTP answer a service gave after the rounds. */
export interface Probe {
  readonly status: number | string
  readonly bytes: number
}

/** Everything measured of one configuration. */
export interface ConfigurationResult {
  readonly key: ConfigurationKey
  readonly label: string
  readonly evidence: ChildEvidence
  readonly rounds: ReadonlyArray<MeasuredRound>
  /** Runs of every round and the warm-up. */
  readonly runs: number
  /** What the sink received under this configuration's endpoint, from start to stop. */
  readonly exported: SinkCounts
  /** `/metrics` and `/readyz` of the scheduler, when it has an HTTP port. */
  readonly metrics: Probe | undefined
  readonly readyz: Probe | undefined
}

/** The whole measurement. */
export interface TelemetryResult {
  readonly configurations: ReadonlyArray<ConfigurationResult>
  /** What the sink received under no configuration's endpoint (nothing, unless something else found it). */
  readonly unattributed: SinkCounts
}

/** Variables the OpenTelemetry SDK or the telemetry layers read; none is passed on unless set here. */
const isOtelVariable = (name: string) => name.startsWith("OTEL_")

const childModule = fileURLToPath(new URL("./telemetryChild.ts", import.meta.url))

/** A port free right now (the service binds it moments later). */
const freePort = (): Promise<number> =>
  new Promise((resolve, reject) => {
    const server = createServer()
    server.once("error", reject)
    server.listen(0, () => {
      const { port } = server.address() as AddressInfo
      server.close(() => resolve(port))
    })
  })

const freePorts = async (): Promise<ServicePorts> => ({
  registry: await freePort(),
  scheduler: await freePort(),
  executor: await freePort()
})

interface Child {
  readonly evidence: ChildEvidence
  readonly round: (plan: RawPlan) => Promise<ChildRound>
  readonly stop: () => Promise<void>
}

/** Forks one configuration's process and waits until its deployment is built. */
const startChild = (
  args: ChildArguments,
  options: { readonly env: NodeJS.ProcessEnv; readonly label: string; readonly cpuProfileDir: string | undefined }
): Promise<Child> =>
  new Promise((resolveStart, rejectStart) => {
    const { cpuProfileDir, env, label } = options
    const execArgv = cpuProfileDir === undefined ? process.execArgv : [...process.execArgv, "--cpu-prof", `--cpu-prof-dir=${cpuProfileDir}`]
    const child = fork(childModule, [JSON.stringify(args)], { env, execArgv, stdio: ["ignore", "inherit", "inherit", "ipc"] })
    let pending: { resolve: (round: ChildRound) => void; reject: (error: Error) => void } | undefined
    let started = false
    let stopping: Promise<void> | undefined
    // Asks the process to release its deployment (flushing its exporters) and exit; kills it if it does not.
    const stop = () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null || child.signalCode !== null) return resolve()
        const timer = setTimeout(() => child.kill("SIGKILL"), 15_000)
        child.once("exit", () => {
          clearTimeout(timer)
          resolve()
        })
        if (child.connected) child.send({ type: "stop" } satisfies ToChild)
        else child.kill("SIGKILL")
      })
    const fail = (error: Error) => {
      if (!started) rejectStart(error)
      pending?.reject(error)
      pending = undefined
    }
    child.on("error", fail)
    child.on("exit", (code, signal) => fail(new Error(`${label}: process exited (${signal ?? code})`)))
    child.on("message", (message: FromChild) => {
      switch (message.type) {
        case "ready":
          started = true
          return resolveStart({
            evidence: message.evidence,
            round: (plan) =>
              new Promise((resolve, reject) => {
                pending = { resolve, reject }
                child.send({ type: "round", plan } satisfies ToChild)
              }),
            stop: () => (stopping ??= stop())
          })
        case "round":
          pending?.resolve(message.result)
          pending = undefined
          return
        case "failed":
          return fail(new Error(`${label}: ${message.message}`))
      }
    })
  })

const probe = async (url: string): Promise<Probe> => {
  try {
    const response = await fetch(url)
    return { status: response.status, bytes: (await response.arrayBuffer()).byteLength }
  } catch (error) {
    return { status: error instanceof Error ? error.message : String(error), bytes: 0 }
  }
}

/** Measures the three configurations against the nats-server at `url`. */
export const telemetryOverhead = async (
  url: string,
  prefix: string,
  options: { readonly slots: number; readonly resultConcurrency: number },
  plan: TelemetryPlan
): Promise<TelemetryResult> => {
  const sink = await startOtlpSink()
  const children: Array<Child> = []
  const received = new Map<string, SinkCounts>()
  const collect = () => {
    for (const [sender, counts] of sink.take()) received.set(sender, addCounts(received.get(sender) ?? noCounts, counts))
  }
  try {
    const quiet = Object.fromEntries(Object.entries(process.env).filter(([name]) => !isOtelVariable(name)))
    const ports = await Promise.all(configurations.map((configuration) => (configuration.telemetry ? freePorts() : undefined)))
    const starts = await Promise.allSettled(
      configurations.map((configuration, i) =>
        startChild(
          { url, prefix: `${prefix}${configuration.key}`, ...options, httpPorts: ports[i] ?? null },
          {
            env: configuration.traced
              ? { ...quiet, OTEL_EXPORTER_OTLP_ENDPOINT: sink.endpoint(configuration.key), OTEL_EXPORTER_OTLP_PROTOCOL: "http/protobuf" }
              : quiet,
            label: configuration.label,
            cpuProfileDir: plan.cpuProfileDir === undefined ? undefined : join(plan.cpuProfileDir, configuration.key)
          }
        )
      )
    )
    for (const start of starts) if (start.status === "fulfilled") children.push(start.value)
    for (const start of starts) if (start.status === "rejected") throw start.reason
    const runs: Array<number> = []
    for (const child of children) runs.push((await child.round(plan.warmup)).runs)
    const rounds: Array<Array<MeasuredRound>> = configurations.map(() => [])
    for (let r = 0; r < plan.rounds; r++) {
      for (let k = 0; k < children.length; k++) {
        const i = (r + k) % children.length
        rounds[i]!.push(await children[i]!.round(plan.round))
        // Parsing what arrived happens here, between turns, not during one.
        collect()
      }
    }
    const probes = await Promise.all(
      ports.map(async (servicePorts) =>
        servicePorts === undefined
          ? undefined
          : {
              metrics: await probe(`http://127.0.0.1:${servicePorts.scheduler}/metrics`),
              readyz: await probe(`http://127.0.0.1:${servicePorts.scheduler}/readyz`)
            }
      )
    )
    await Promise.all(children.map((child) => child.stop()))
    collect()
    return {
      configurations: configurations.map((configuration, i) => ({
        key: configuration.key,
        label: configuration.label,
        evidence: children[i]!.evidence,
        rounds: rounds[i]!,
        runs: runs[i]! + rounds[i]!.reduce((sum, round) => sum + round.runs, 0),
        exported: received.get(configuration.key) ?? noCounts,
        metrics: probes[i]?.metrics,
        readyz: probes[i]?.readyz
      })),
      unattributed: [...received]
        .filter(([sender]) => !configurations.some((configuration) => configuration.key === sender))
        .reduce((sum, [, counts]) => addCounts(sum, counts), noCounts)
    }
  } finally {
    await Promise.all(children.map((child) => child.stop()))
    await sink.close()
  }
}
