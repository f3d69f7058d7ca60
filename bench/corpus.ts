/**
 * The corpus benchmark (`npm run bench:corpus`): a document pipeline
 * (`examples/pipelines/auto.yaml`) over generated corpora of about 2 KB
 * Markdown notes and a few PDFs (100, 1,000 and 10,000 documents), measured
 * side by side in one run: embedded (`switchyard run` alone), over NATS with
 * one and with two executor replicas (registry, scheduler, executors and the
 * client as separate processes on a nats-server of the benchmark's own), and
 * the floor (the same stage functions called one after the other in a plain
 * Node process). It prints documents per second and the ratio to the floor,
 * peak RSS of every process, the largest run record and message on the bus,
 * the parse stage with one and two replicas, and the targets. A run that
 * fails or outlives its deadline is reported as such and the benchmark goes
 * on; it never fails on a figure: it exits 0 whenever it ran.
 *
 * Options: `--sizes 100,1000` (default 100,1000,10000); `--only
 * embedded,nats1,nats2,floor` (default all); `--deadline <seconds>` per run
 * (default 120 plus 0.1 per document); `--stall <seconds>`: a run over NATS
 * with no event for that long after a service logged an error is stopped as
 * stalled (default 60); `--pipeline <file>` (default
 * examples/pipelines/auto.yaml); `--keep` leaves the corpora in place.
 */
import { mkdtemp, rm } from "node:fs/promises"
import { availableParallelism, tmpdir } from "node:os"
import { join } from "node:path"
import { parseArgs } from "node:util"
import { type GeneratedCorpus, writeCorpus } from "../test/support/corpus.ts"
import { natsServerVersion } from "../test/support/NatsServer.ts"
import {
  busTable,
  corpusTable,
  cpuTable,
  failureLines,
  measurementTable,
  parseTable,
  targets,
  targetTable
} from "./internal/corpusReport.ts"
import { type Measurement, measureEmbedded, measureFloor, measureNats, type Variant, variants } from "./internal/corpusRuns.ts"

const { values } = parseArgs({
  options: {
    sizes: { type: "string", default: "100,1000,10000" },
    only: { type: "string", default: variants.join(",") },
    deadline: { type: "string" },
    pipeline: { type: "string", default: "examples/pipelines/auto.yaml" },
    stall: { type: "string", default: "60" },
    keep: { type: "boolean", default: false }
  }
})

const fail = (message: string): never => {
  process.stderr.write(`bench:corpus: ${message}\n`)
  process.exit(2)
}

const sizes = values.sizes.split(",").map((text) => {
  const value = Number(text.trim().replaceAll("_", ""))
  return Number.isInteger(value) && value > 0
    ? value
    : fail(`--sizes: expected positive whole numbers separated by commas, found "${text}"`)
})
const only = values.only.split(",").map((name) => {
  const variant = name.trim() as Variant
  return variants.includes(variant) ? variant : fail(`--only: expected some of ${variants.join(",")}, found "${name}"`)
})
const deadlineSeconds = values.deadline === undefined ? undefined : Number(values.deadline)
if (deadlineSeconds !== undefined && !(deadlineSeconds > 0)) fail(`--deadline: expected a number of seconds, found "${values.deadline}"`)
const deadlineMs = (documents: number) => (deadlineSeconds ?? 120 + 0.1 * documents) * 1000
const stallSeconds = Number(values.stall)
if (!(stallSeconds > 0)) fail(`--stall: expected a number of seconds, found "${values.stall}"`)
/** How long a service of a deployment may take to say it is ready. */
const readyTimeoutMs = 90_000

const log = (line: string) => process.stderr.write(`${line}\n`)

const serverVersion = natsServerVersion()

const benchStarted = performance.now()
const root = await mkdtemp(join(tmpdir(), "switchyard-corpora-"))
const corpora: Array<GeneratedCorpus & { readonly seconds: number }> = []
const measurements: Array<Measurement> = []
try {
  for (const documents of sizes) {
    log(`generating ${documents} documents ...`)
    const t0 = performance.now()
    const corpus = await writeCorpus({ dir: join(root, `corpus-${documents}`), documents })
    corpora.push({ ...corpus, seconds: (performance.now() - t0) / 1000 })
    // The floor first: it is what every other row is compared with.
    for (const variant of ["floor", "embedded", "nats1", "nats2"] as const) {
      if (!only.includes(variant)) continue
      log(`measuring ${variant} on ${documents} documents ...`)
      const options = { pipeline: values.pipeline, corpusDir: corpus.dir, documents, deadlineMs: deadlineMs(documents) }
      const measurement =
        variant === "floor"
          ? await measureFloor(options)
          : variant === "embedded"
            ? await measureEmbedded(options)
            : await measureNats({ ...options, replicas: variant === "nats1" ? 1 : 2, readyTimeoutMs, stallMs: stallSeconds * 1000 })
      measurements.push(measurement)
      log(`  ${measurement.failure === undefined ? "ok" : `failed: ${measurement.failure}`} (${measurement.wallSeconds.toFixed(1)} s)`)
    }
  }
} finally {
  if (values.keep) log(`corpora kept in ${root}`)
  else await rm(root, { recursive: true, force: true })
}

const seconds = ((performance.now() - benchStarted) / 1000).toFixed(0)
console.log(`
Switchyard corpus benchmark: ${values.pipeline}, ${serverVersion} (file store, one per NATS run), node ${process.version}, ${availableParallelism()} CPUs, ${seconds} s

  floor     the pipeline's stage functions called one after the other over the whole corpus in a plain
            node process (no bus, scheduler, executor, run record or events); wall time from spawn to exit
  embedded  switchyard run with no NATS URL: registry, scheduler and executor in the run's process
  nats1     switchyard run --nats against registry, scheduler and 1 executor replica, each a process,
            on a fresh nats-server; a plain nats.js connection subscribed to > sees every message
  nats2     the same with 2 executor replicas
  wall s = spawn of the run's process to its exit; run s = run.started to run.finished (floor: its
  stage loop); parse s = the parse stage's first start to its last finish; RSS = peak (VmHWM) per process;
  CPU s = user + system CPU time per process, and their sum over wall s times the CPUs; cores busy in
  parse = the CPU time of all the run's processes between the parse stage's first start and last end,
  over that time times the CPUs
`)
console.log(corpusTable(corpora))
console.log("")
console.log(measurementTable(measurements))
if (measurements.some((measurement) => measurement.parseSeconds !== undefined)) {
  console.log("")
  console.log(parseTable(measurements, sizes, availableParallelism()))
}
console.log("")
console.log(cpuTable(measurements, availableParallelism()))
if (measurements.some((measurement) => measurement.bus !== undefined)) {
  console.log("")
  console.log(busTable(measurements))
}
const failures = failureLines(measurements)
if (failures.length > 0) {
  console.log("\nfailures")
  for (const line of failures) console.log(`  ${line}`)
}
console.log("")
console.log(targetTable(targets(measurements)))
