/**
 * The dispatch benchmark (`npm run bench:dispatch`): against one nats-server
 * it starts itself, it measures side by side a raw core NATS request/reply,
 * a raw JetStream work-queue round trip, the NATS operations a durable run
 * with Switchyard's guarantees cannot do without (written directly against
 * nats.js: the floor any implementation of those guarantees starts from),
 * Switchyard's durable dispatch of a one-stage no-op run, and the same run on
 * the embedded in-memory bus, then prints the ratios the project aims for
 * and whether each is met, for the floor as well as for Switchyard. When the
 * embedded target is out of reach for whole runs it also shows where the
 * time goes (a wide fan-out run, the executor fed tasks directly, the
 * in-memory bus work a task needs and nothing else, the in-memory queue
 * alone), and the embedded target for that floor too. Last, what telemetry
 * costs on the durable path: the durable run without the telemetry layers,
 * under them with tracing off, and with tracing on, in turns
 * (`telemetryOverhead.ts`). It never fails on a time: it exits 0 whenever
 * it ran.
 *
 * Options: `--scale <n>` multiplies every sample count (default 1);
 * `--only <list>` runs some of `core,jetstream,floor,durable,embedded,fanout,executor,memfloor,queue,telemetry`
 * (`fanout` to `queue` are the embedded breakdown); `--rounds <n>`: turns of
 * each telemetry configuration (default 4, or 12 when `telemetry` is all
 * that runs; a multiple of 4 puts each configuration in each place of the
 * order equally often); `--cpu-prof <dir>`: a CPU profile of each telemetry
 * configuration's process under `<dir>/<configuration>/` (read them with
 * `bench/cpuProfileTop.ts`).
 */
import { randomUUID } from "node:crypto"
import { availableParallelism } from "node:os"
import { parseArgs } from "node:util"
import { natsServerVersion, startNatsServer } from "../test/support/NatsServer.ts"
import type { DeploymentOptions } from "./internal/deployment.ts"
import { durableRunFloor } from "./internal/durableFloor.ts"
import { embeddedTaskFloor } from "./internal/embeddedTaskFloor.ts"
import { coreRequestReply, jetStreamRoundTrip, type RawPlan, type ScenarioResult } from "./internal/rawNats.ts"
import { type Breakdown, breakdownTable, rate, type Row, scenarioTable, type Target, targetTable } from "./internal/report.ts"
import { durableRuns, embeddedExecutorPath, embeddedFanOut, embeddedRuns, memoryQueueFloor } from "./internal/switchyardRuns.ts"
import { type TelemetryPlan, telemetryOverhead, type TelemetryResult } from "./internal/telemetryOverhead.ts"
import { telemetryEvidence, telemetryPlanLine, telemetryTable, telemetryTargets } from "./internal/telemetryReport.ts"

const sections = ["core", "jetstream", "floor", "durable", "embedded", "fanout", "executor", "memfloor", "queue", "telemetry"] as const
type Section = (typeof sections)[number]

const { values } = parseArgs({
  options: {
    scale: { type: "string", default: "1" },
    only: { type: "string", default: sections.join(",") },
    rounds: { type: "string" },
    "cpu-prof": { type: "string" }
  }
})
const scale = Number(values.scale)
const only = new Set(values.only.split(",").map((name) => name.trim()) as Array<Section>)
const n = (count: number) => Math.max(1, Math.round(count * (Number.isFinite(scale) && scale > 0 ? scale : 1)))

/** Operations outstanding at once in every throughput measurement. */
const inFlight = 256
/** Tasks in the single fan-out run. */
const fanOutWidth = 1000
/** The embedded target, tasks per second. */
const embeddedGoal = 100_000

const plans = {
  core: {
    sequential: { warmup: n(500), samples: n(2000), budgetSeconds: 5 },
    concurrent: { warmup: n(5000), total: n(50_000), inFlight, budgetSeconds: 8 }
  },
  jetstream: {
    sequential: { warmup: n(200), samples: n(2000), budgetSeconds: 8 },
    concurrent: { warmup: n(2000), total: n(20_000), inFlight, budgetSeconds: 10 }
  },
  floor: {
    sequential: { warmup: n(200), samples: n(2000), budgetSeconds: 8 },
    concurrent: { warmup: n(2000), total: n(20_000), inFlight, budgetSeconds: 10 }
  },
  durable: {
    sequential: { warmup: n(200), samples: n(2000), budgetSeconds: 20 },
    concurrent: { warmup: n(1000), total: n(20_000), inFlight, budgetSeconds: 20 }
  },
  embedded: {
    sequential: { warmup: n(500), samples: n(2000), budgetSeconds: 8 },
    concurrent: { warmup: n(2000), total: n(20_000), inFlight, budgetSeconds: 12 }
  }
} satisfies Record<string, RawPlan>

/** Rounds of the telemetry comparison: many short turns, so load drifts hit every configuration alike. */
const telemetryPlan: TelemetryPlan = {
  rounds: Math.max(1, Math.round(Number(values.rounds ?? (only.size === 1 ? 12 : 4)) || 4)),
  cpuProfileDir: values["cpu-prof"],
  warmup: {
    sequential: { warmup: 0, samples: n(50), budgetSeconds: 10 },
    concurrent: { warmup: 0, total: n(600), inFlight, budgetSeconds: 15 }
  },
  round: {
    sequential: { warmup: 10, samples: n(60), budgetSeconds: 10 },
    concurrent: { warmup: 64, total: n(1000), inFlight, budgetSeconds: 15 }
  }
}

const prefix = `bench${randomUUID().replaceAll("-", "").slice(0, 8)}`
const deployment = (label: string): DeploymentOptions => ({ prefix: `${prefix}${label}`, slots: inFlight, resultConcurrency: inFlight })

const log = (line: string) => process.stderr.write(`${line}\n`)
const message = (error: unknown) => (error instanceof Error ? error.message : String(error)).split("\n")[0]!

/** Runs one measurement, reporting progress on stderr; a failure becomes its message. */
const attempt = async <A>(label: string, run: () => Promise<A>): Promise<A | string> => {
  log(`measuring ${label} ...`)
  const started = performance.now()
  try {
    const value = await run()
    log(`  done in ${((performance.now() - started) / 1000).toFixed(1)} s`)
    return value
  } catch (error) {
    log(`  failed: ${message(error)}`)
    return message(error)
  }
}

const serverVersion = natsServerVersion()

const benchStarted = performance.now()
const server = await startNatsServer()
const rows: Array<Row> = []
const breakdown: Array<Breakdown> = []
const results: Partial<Record<Section, ScenarioResult | string>> = {}
let taskFloor: number | string | undefined
let telemetry: TelemetryResult | string | undefined
try {
  if (only.has("core")) {
    results.core = await attempt("raw core request/reply", () => coreRequestReply(server.url, `${prefix}core`, plans.core))
    rows.push({ name: "raw core NATS request/reply", result: results.core })
  }
  if (only.has("jetstream")) {
    results.jetstream = await attempt("raw JetStream round trip", () => jetStreamRoundTrip(server.url, `${prefix}js`, plans.jetstream))
    rows.push({ name: "raw JetStream work queue round trip", result: results.jetstream })
  }
  if (only.has("floor")) {
    results.floor = await attempt("durable-run message floor", () => durableRunFloor(server.url, `${prefix}runfloor`, plans.floor))
    rows.push({ name: "durable-run message floor (raw nats.js)", result: results.floor })
  }
  if (only.has("durable")) {
    results.durable = await attempt("durable dispatch", () => durableRuns(server.url, deployment("durable"), plans.durable))
    rows.push({ name: "Switchyard durable run (NATS)", result: results.durable })
  }
  if (only.has("embedded")) {
    results.embedded = await attempt("embedded dispatch", () => embeddedRuns(deployment("embedded"), plans.embedded))
    rows.push({ name: "Switchyard embedded run (memory)", result: results.embedded })
  }
  if (results.embedded !== undefined && typeof results.embedded === "object") {
    breakdown.push({ name: `whole 1-stage runs, ${inFlight} in flight`, perSec: results.embedded.concurrent.opsPerSec })
  }
  if (only.has("fanout")) {
    const fanOut = await attempt(`embedded fan-out of ${fanOutWidth}`, () => embeddedFanOut(deployment("fanout"), fanOutWidth))
    breakdown.push({
      name: `one run of ${fanOutWidth} parallel no-op stages`,
      perSec: typeof fanOut === "string" ? fanOut : fanOut.tasksPerSec
    })
  }
  if (only.has("executor")) {
    const direct = await attempt("embedded executor fed directly", () => embeddedExecutorPath(deployment("direct"), n(2000), n(20_000)))
    breakdown.push({ name: "executor fed TaskRun directly, results acked", perSec: direct })
  }
  if (only.has("memfloor")) {
    taskFloor = await attempt("embedded task floor", () => embeddedTaskFloor(deployment("memfloor"), n(2000), n(20_000)))
    breakdown.push({ name: "embedded task floor (in-memory bus primitives)", perSec: taskFloor })
  }
  if (only.has("queue")) {
    const floor = await attempt("in-memory work queue alone", () => memoryQueueFloor(deployment("floor"), n(10_000), n(100_000)))
    breakdown.push({ name: "in-memory work queue alone (enqueue, lease, ack)", perSec: floor })
  }
  if (only.has("telemetry")) {
    telemetry = await attempt("durable dispatch under telemetry (4 configurations in turns)", () =>
      telemetryOverhead(server.url, `${prefix}tel`, { slots: inFlight, resultConcurrency: inFlight }, telemetryPlan)
    )
  }
} finally {
  await server.dispose()
}

const { durable, embedded, floor, jetstream } = results
const measured = (value: ScenarioResult | string | undefined): value is ScenarioResult => typeof value === "object"
const unmeasured = (name: string, goal: string): Target => ({ name, measured: "-", goal, met: undefined })

/** `subject`'s throughput against raw JetStream's, goal half of it (for Switchyard's durable runs and for the floor). */
const throughputTarget = (label: string, subject: ScenarioResult | string | undefined): Target => {
  const name = `${label} throughput / raw JetStream throughput`
  if (!measured(subject) || !measured(jetstream)) return unmeasured(name, ">= 50 %")
  const ratio = subject.concurrent.opsPerSec / jetstream.concurrent.opsPerSec
  return {
    name,
    measured: `${(ratio * 100).toFixed(1)} % (${rate(subject.concurrent.opsPerSec)} / ${rate(jetstream.concurrent.opsPerSec)} per s)`,
    goal: ">= 50 %",
    met: ratio >= 0.5
  }
}

/** `subject`'s sequential p50 against raw JetStream's, goal at most twice it. */
const latencyTarget = (label: string, subject: ScenarioResult | string | undefined): Target => {
  const name = `${label} seq p50 / raw JetStream seq p50`
  if (!measured(subject) || !measured(jetstream)) return unmeasured(name, "<= 2x")
  const ratio = subject.sequential.latency.p50 / jetstream.sequential.latency.p50
  return {
    name,
    measured: `${ratio.toFixed(1)}x (${subject.sequential.latency.p50.toFixed(2)} / ${jetstream.sequential.latency.p50.toFixed(2)} ms)`,
    goal: "<= 2x",
    met: ratio <= 2
  }
}

/** Tasks per second against the embedded goal (for whole runs and for the task floor). */
const embeddedTarget = (name: string, perSec: number | string | undefined): Target => {
  const goal = `>= ${rate(embeddedGoal)}/s`
  if (typeof perSec !== "number") return unmeasured(name, goal)
  return { name, measured: `${rate(perSec)}/s`, goal, met: perSec >= embeddedGoal }
}

const seconds = ((performance.now() - benchStarted) / 1000).toFixed(0)
console.log(`
Switchyard dispatch benchmark: ${serverVersion} (file store, started for this run), node ${process.version}, ${availableParallelism()} CPUs, ${seconds} s

Every operation is a no-op round trip. seq = one at a time after a warm-up; ops/s and @load = ${inFlight} in flight.
  raw core       nats.js request/reply; the responder on a second connection
  raw JetStream  publish (with a message id) into a file-backed work-queue stream; a pull consumer
                 replies on core NATS and acks; the publisher waits for the reply
  floor          a durable run's NATS operations alone (raw nats.js, client, scheduler and executor on
                 one connection each): subscribe + flush, submit request; KV create, task publish,
                 reply; result publish, task ack; KV put, finished event, result ack; awaited where a
                 durable run must await them
  durable        SwitchyardClient.submitRun of a one-stage hello.noop pipeline until run.finished;
                 registry, scheduler (${inFlight} results at once), executor (${inFlight} slots) and client in
                 this process, one NATS connection each
  embedded       the same run with all four on one in-memory bus
  task floor     (embedded breakdown) the in-memory bus work of one task alone: task enqueued with a
                 message id and taken by the pool's consumer; result enqueued with a message id, task
                 acked; result taken by the results consumer, run record saved (compare-and-set),
                 result acked
`)
if (rows.length > 0) console.log(scenarioTable(rows))
if (breakdown.length > 0) {
  console.log("")
  console.log(breakdownTable(breakdown))
}
if (telemetry !== undefined) {
  console.log(`
Telemetry on the durable path: the durable run, each configuration in a process of its own (all four
processes alive throughout, one measured at a time) with its own streams on the same server.
  1   the services as the durable row builds them, no telemetry layer
  1'  the same again, a control: its difference from 1 is what noise alone does to a comparison
  2   each service (its connection included) under Telemetry.layer with an HTTP port (Prometheus
      reader, /metrics, /readyz), the client under Tracing.layer("cli"), no OTEL_* variable: tracing off
  3   the same with OTEL_EXPORTER_OTLP_ENDPOINT naming a local sink (a node:http server answering 200)
      and OTEL_EXPORTER_OTLP_PROTOCOL=http/protobuf: tracing on
The span processors are flushed after each part of a round; ops/s includes the flush. CPU/run is the
process's own CPU time (user + system) over the concurrent part divided by its runs.
${telemetryPlanLine(telemetryPlan, inFlight)}
`)
  if (typeof telemetry === "string") console.log(`not measured: ${telemetry}`)
  else {
    console.log(telemetryTable(telemetry))
    console.log("")
    console.log(telemetryEvidence(telemetry))
  }
}
console.log("")
console.log(
  targetTable([
    throughputTarget("durable", durable),
    throughputTarget("floor", floor),
    latencyTarget("durable", durable),
    latencyTarget("floor", floor),
    embeddedTarget("embedded tasks/s (whole 1-stage runs)", measured(embedded) ? embedded.concurrent.opsPerSec : undefined),
    embeddedTarget("embedded task floor tasks/s", taskFloor),
    ...telemetryTargets(telemetry)
  ])
)
