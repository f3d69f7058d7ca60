/**
 * The soak benchmark (`npm run bench:soak`): whether the services' memory
 * stays bounded under a steady load. On a nats-server of its own it starts
 * the registry, the scheduler and executor replicas as separate processes
 * (as `startDeployment` does for the corpus benchmark), then sends the same
 * processes bursts of runs through the client (`soakRuns.ts`: small runs of
 * the `hello` pipeline, a few `for_each` fan-out runs and two fan-out runs
 * that fail), and after every
 * burst reads each service's RSS (`VmRSS`) and V8 heap. It prints one row
 * per burst, the ratio of the last burst to the third (the first ones warm
 * caches, JIT code and pools up), and whether the target is met: RSS after
 * the last burst within 10 % of the third. It never fails on a figure: it
 * exits 0 whenever it ran. `heapSnapshotDiff.ts` compares the snapshots
 * `--snapshots` writes.
 *
 * Options: `--bursts <n>` (default 10); `--tasks <n>` per burst (default
 * 3000); `--replicas <n>` executors (default 2); `--concurrency <n>` runs in
 * flight (default 32); `--settle <seconds>` idle time after a burst before
 * memory is read (default 2); `--gc`: the services run with `--expose-gc`
 * and the heap is read after a full collection (RSS is read before it);
 * `--max-old-space <MB>`: the services' `--max-old-space-size`; `--node-arg
 * <flag>` (repeatable): another Node or V8 flag for the services, e.g.
 * `--node-arg=--max-semi-space-size=16`;
 * `--snapshots <dir>` with `--snapshot-after 3,8`: heap snapshots of the
 * scheduler and the first executor after those bursts.
 */
import { mkdir } from "node:fs/promises"
import { availableParallelism } from "node:os"
import { join, resolve } from "node:path"
import { fileURLToPath } from "node:url"
import { parseArgs } from "node:util"
import { connect } from "../sdk/client.ts"
import { natsServerVersion } from "../test/support/NatsServer.ts"
import { startDeployment } from "./internal/corpusDeployment.ts"
import type { Child } from "./internal/corpusProcess.ts"
import { targetTable } from "./internal/report.ts"
import { type MemoryReading, probeReader } from "./internal/soakMemory.ts"
import { type BurstOutcome, burstPlan, failingRuns, fanOutItems, helloTasks, runBurst } from "./internal/soakRuns.ts"

const { values } = parseArgs({
  options: {
    bursts: { type: "string", default: "10" },
    tasks: { type: "string", default: "3000" },
    replicas: { type: "string", default: "2" },
    concurrency: { type: "string", default: "32" },
    settle: { type: "string", default: "2" },
    gc: { type: "boolean", default: false },
    "max-old-space": { type: "string" },
    "node-arg": { type: "string", multiple: true, default: [] },
    snapshots: { type: "string" },
    "snapshot-after": { type: "string", default: "3,8" }
  }
})

const fail = (message: string): never => {
  process.stderr.write(`bench:soak: ${message}\n`)
  process.exit(2)
}
const positive = (name: string, text: string, min = 1) => {
  const value = Number(text.replaceAll("_", ""))
  return Number.isInteger(value) && value >= min ? value : fail(`--${name}: expected a whole number of at least ${min}, found "${text}"`)
}
const bursts = positive("bursts", values.bursts)
const tasks = positive("tasks", values.tasks, helloTasks + fanOutItems + 1)
const replicas = positive("replicas", values.replicas)
const concurrency = positive("concurrency", values.concurrency)
const settleSeconds = Number(values.settle)
if (!(settleSeconds >= 0)) fail(`--settle: expected a number of seconds, found "${values.settle}"`)
const maxOldSpace = values["max-old-space"] === undefined ? undefined : positive("max-old-space", values["max-old-space"], 16)
const snapshotAfter = new Set(values["snapshot-after"].split(",").map((text) => positive("snapshot-after", text.trim())))
const snapshotDir = values.snapshots === undefined ? undefined : resolve(values.snapshots)
/** The burst every later one is compared with: the first ones warm caches, JIT code and pools up. */
const baseline = Math.min(3, bursts)
const tolerance = 0.1

const log = (line: string) => process.stderr.write(`${line}\n`)
const probe = fileURLToPath(new URL("./internal/soakProbe.ts", import.meta.url))
const nodeArgs = [
  "--import",
  probe,
  ...(values.gc ? ["--expose-gc"] : []),
  ...(maxOldSpace === undefined ? [] : [`--max-old-space-size=${maxOldSpace}`]),
  ...values["node-arg"]
]

const probes = new Map<string, ReturnType<typeof probeReader>>()
const serverVersion = natsServerVersion()
const benchStarted = performance.now()
log(`starting nats-server, registry, scheduler and ${replicas} executor(s) ...`)
const deployment = await startDeployment({
  replicas,
  readyTimeoutMs: 90_000,
  child: (label) => {
    const reader = probeReader()
    probes.set(label, reader)
    return { nodeArgs, stdin: true, onStderrLine: reader.onStderrLine }
  }
})
const services: ReadonlyArray<Child> = [deployment.registry, deployment.scheduler, ...deployment.executors]
for (const service of services) probes.get(service.label)!.attach(service)
if (snapshotDir !== undefined) await mkdir(snapshotDir, { recursive: true })

const rows: Array<{ readonly burst: number; readonly outcome: BurstOutcome; readonly memory: ReadonlyMap<string, MemoryReading> }> = []
const stopped: Array<string> = []
const client = await connect({ natsUrl: deployment.url, name: "soak-client" })
try {
  const plan = burstPlan(tasks)
  for (let burst = 1; burst <= bursts; burst++) {
    const gone = services.filter((service) => !service.running())
    if (gone.length > 0) {
      stopped.push(`before burst ${burst}: ${gone.map((service) => service.label).join(", ")} exited`)
      break
    }
    log(
      `burst ${burst}/${bursts}: ${plan.helloRuns} hello runs, ${plan.fanOutRuns} fan-out runs (${plan.tasks} tasks) and ${plan.failingRuns} failing fan-out runs ...`
    )
    const outcome = await runBurst({ client, burst, tasks, concurrency, runDeadlineMs: 120_000 })
    await new Promise((done) => setTimeout(done, settleSeconds * 1000))
    const memory = new Map<string, MemoryReading>()
    for (const service of services) memory.set(service.label, await probes.get(service.label)!.memory())
    rows.push({ burst, outcome, memory })
    const summary = services.map((service) => `${service.label} ${mb(memory.get(service.label)?.rss)}`).join(", ")
    log(
      `  ${outcome.succeeded + outcome.failedAsPlanned}/${outcome.runs} runs ended as planned in ${outcome.seconds.toFixed(1)} s; RSS MB: ${summary}`
    )
    if (snapshotDir !== undefined && snapshotAfter.has(burst)) {
      for (const service of [deployment.scheduler, deployment.executors[0]!]) {
        const file = join(snapshotDir, `${service.label}-burst${burst}.heapsnapshot`)
        log(`  heap snapshot of ${service.label}: ${(await probes.get(service.label)!.snapshot(file)) ?? "not written"}`)
      }
    }
  }
} finally {
  await client.close()
  await deployment.stop()
}

function mb(bytes: number | undefined): string {
  return bytes === undefined ? "-" : (bytes / 1024 / 1024).toFixed(0)
}

const table = (header: ReadonlyArray<string>, body: ReadonlyArray<ReadonlyArray<string>>): string => {
  const widths = header.map((title, column) => Math.max(title.length, ...body.map((row) => (row[column] ?? "").length)))
  const line = (cells: ReadonlyArray<string>) => cells.map((cell, column) => cell.padStart(widths[column]!)).join("  ")
  return [line(header), widths.map((width) => "-".repeat(width)).join("  "), ...body.map(line)].join("\n")
}

const labels = services.map((service) => service.label)
const seconds = ((performance.now() - benchStarted) / 1000).toFixed(0)
console.log(`
Switchyard soak benchmark: ${bursts} bursts of ${burstPlan(tasks).tasks} tasks (${burstPlan(tasks).helloRuns} runs of hello.yaml, ${helloTasks} tasks each,
${burstPlan(tasks).fanOutRuns} for_each runs of ${fanOutItems} + 1 tasks, and ${failingRuns} for_each runs that fail), ${concurrency} runs in flight, registry, scheduler and ${replicas}
executor(s) as separate processes on ${serverVersion}, node ${process.version}, ${availableParallelism()} CPUs, ${seconds} s${
  maxOldSpace === undefined ? "" : `, --max-old-space-size=${maxOldSpace}`
}

  RSS = VmRSS of the process ${settleSeconds} s after the burst's last run finished; heap = V8 heap used${
    values.gc ? " after a full collection (read after RSS)" : ""
  }, MB; heap total = the V8 heap's
  committed size; external = memory V8 objects hold outside the heap (buffers); other = RSS less both (code, stacks,
  native allocations of Node and its libraries, allocator slack), MB
`)
console.log(
  table(
    ["burst", "runs as planned", "s", "tasks/s", ...labels.flatMap((label) => [`${label} RSS`, "heap"])],
    rows.map(({ burst, memory, outcome }) => [
      String(burst),
      `${outcome.succeeded + outcome.failedAsPlanned}/${outcome.runs}`,
      outcome.seconds.toFixed(1),
      (outcome.tasks / outcome.seconds).toFixed(0),
      ...labels.flatMap((label) => [mb(memory.get(label)?.rss), mb(memory.get(label)?.heap?.heapUsed)])
    ])
  )
)
console.log("")
console.log(
  table(
    ["burst", ...labels.flatMap((label) => [`${label} heap total`, "external", "other"])],
    rows.map(({ burst, memory }) => [
      String(burst),
      ...labels.flatMap((label) => {
        const reading = memory.get(label)
        const heap = reading?.heap
        const other = heap === undefined || reading?.rss === undefined ? undefined : reading.rss - heap.heapTotal - heap.external
        return [mb(heap?.heapTotal), mb(heap?.external), mb(other)]
      })
    ])
  )
)
const failed = rows.flatMap(({ burst, outcome }) =>
  [...outcome.failures].map(([status, { count, example }]) => `burst ${burst}: ${count} ${status}, e.g. ${example}`)
)
if (failed.length > 0 || stopped.length > 0) {
  console.log("\nfailures")
  for (const line of [...failed, ...stopped]) console.log(`  ${line}`)
}
const first = rows.find((row) => row.burst === baseline)
const last = rows.find((row) => row.burst === bursts)
console.log("")
console.log(
  targetTable(
    labels.map((label) => {
      const from = first?.memory.get(label)?.rss
      const to = last?.memory.get(label)?.rss
      const ratio = from === undefined || to === undefined ? undefined : to / from
      return {
        name: `${label} RSS after burst ${bursts} / after burst ${baseline}`,
        measured: ratio === undefined ? "-" : `${ratio.toFixed(3)} (${mb(from)} → ${mb(to)} MB)`,
        goal: `≤ ${(1 + tolerance).toFixed(2)}`,
        met: ratio === undefined ? undefined : ratio <= 1 + tolerance
      }
    })
  )
)
