/**
 * One measurement of the corpus benchmark per call: `auto.yaml` (or another
 * pipeline) over one corpus embedded (`switchyard run` as a child with no
 * NATS URL), over NATS with a fresh deployment of separate processes and a
 * given number of executor replicas, or the floor (the stages called
 * directly in a child of their own). Every measurement gets a fresh store
 * folder and a deadline: a run that fails reports its first failure, one
 * that outlives the deadline is stopped and reported as such, and the
 * benchmark goes on. Wall time is from spawning the run's process to its
 * exit, the same for the floor; the parse stage's time is from its first
 * `stage.started` to its last `stage.finished` or `stage.failed` event
 * (with fan-out, a stage's tasks share those events' span).
 */
import { mkdtemp, rm } from "node:fs/promises"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { fileURLToPath } from "node:url"
import { type BusMonitor, type KindStats, monitorBus } from "./corpusBus.ts"
import type { FloorResult } from "./corpusFloor.ts"
import { type Deployment, startDeployment } from "./corpusDeployment.ts"
import { type Child, type Exited, lastLines, startChild } from "./corpusProcess.ts"

/** What is measured. */
export const variants = ["embedded", "nats1", "nats2", "floor"] as const
export type Variant = (typeof variants)[number]

/** Peak RSS of one process, in bytes, and the CPU time it used, in seconds (undefined when they could not be read). */
export interface ProcessRss {
  readonly process: string
  readonly bytes: number | undefined
  readonly cpuSeconds?: number | undefined
}

/** One measurement. */
export interface Measurement {
  readonly variant: Variant
  readonly documents: number
  /** `undefined` when the run succeeded; else its first failure, one line. */
  readonly failure: string | undefined
  /** More about a failure: the services' first error lines. */
  readonly failureDetail?: string
  readonly wallSeconds: number
  /** From `run.started` to `run.finished` (the floor: its stage loop). */
  readonly runSeconds: number | undefined
  readonly parseSeconds: number | undefined
  /** CPU seconds all the run's processes used while the parse stage ran (embedded and NATS runs). */
  readonly parseCpuSeconds?: number | undefined
  readonly rss: ReadonlyArray<ProcessRss>
  /** Largest run record put on the runs bucket (NATS only). */
  readonly largestRunRecord?: number | undefined
  /** Subject kind → what passed on the bus (NATS only). */
  readonly bus?: ReadonlyMap<string, KindStats>
}

/** What every measurement takes. */
export interface RunOptions {
  readonly pipeline: string
  readonly corpusDir: string
  readonly documents: number
  readonly deadlineMs: number
}

const floorChild = fileURLToPath(new URL("./corpusFloorChild.ts", import.meta.url))

const head = (line: string) => line.slice(0, 4096)
const stringField = (line: string, name: string) => new RegExp(`"${name}":"([^"]*)"`).exec(head(line))?.[1]
const numberField = (line: string, name: string) => {
  const match = new RegExp(`"${name}":(-?\\d+(?:\\.\\d+)?)`).exec(head(line))
  return match === null ? undefined : Number(match[1])
}

/** What a `run --json` printed, read as it comes: ids, times, the first failure and the parse stage's span. */
const eventTracker = (onParse: (edge: "start" | "end") => void = () => {}) => {
  const seen = {
    runId: undefined as string | undefined,
    startedAt: undefined as number | undefined,
    finishedAt: undefined as number | undefined,
    status: undefined as string | undefined,
    failure: undefined as string | undefined,
    parseStart: undefined as number | undefined,
    parseEnd: undefined as number | undefined,
    last: undefined as string | undefined,
    /** `performance.now()` of the last event (or of the start). */
    lastAt: performance.now()
  }
  const onLine = (line: string) => {
    const kind = stringField(line, "kind")
    if (kind === undefined) return
    seen.lastAt = performance.now()
    const at = numberField(line, "at")
    const stage = stringField(line, "stage")
    seen.runId ??= stringField(line, "runId")
    seen.last = stage === undefined ? kind : `${kind} ${stage}`
    if (kind === "run.started") seen.startedAt = at
    if (kind === "run.finished") {
      seen.finishedAt = at
      seen.status = stringField(line, "status")
    }
    if (kind === "stage.failed" && seen.failure === undefined) {
      try {
        const event = JSON.parse(line) as { error?: { tag?: string; message?: string } }
        seen.failure = `${stage}: ${event.error?.tag ?? "error"}: ${(event.error?.message ?? "").split("\n")[0]}`
      } catch {
        seen.failure = `${stage}: failed`
      }
    }
    if (stage === "parse" && at !== undefined) {
      if (kind === "stage.started") {
        if (seen.parseStart === undefined) onParse("start")
        seen.parseStart = Math.min(seen.parseStart ?? at, at)
      }
      if (kind === "stage.finished" || kind === "stage.failed") {
        onParse("end")
        seen.parseEnd = Math.max(seen.parseEnd ?? at, at)
      }
    }
  }
  return { seen, onLine }
}

/**
 * Waits for the child's exit, the deadline, or `stalled` answering a reason
 * (asked every second), whichever comes first; stops the child unless it exited.
 */
const awaitExit = async (
  child: Child,
  deadlineMs: number,
  stalled?: () => string | undefined
): Promise<Exited | { readonly stopped: string }> => {
  let timer: NodeJS.Timeout | undefined
  let watch: NodeJS.Timeout | undefined
  const stop = new Promise<{ readonly stopped: string }>((resolve) => {
    timer = setTimeout(() => resolve({ stopped: `deadline of ${Math.round(deadlineMs / 1000)} s passed` }), deadlineMs)
    if (stalled !== undefined) {
      watch = setInterval(() => {
        const reason = stalled()
        if (reason !== undefined) resolve({ stopped: reason })
      }, 1000)
    }
  })
  const outcome = await Promise.race([child.exited, stop])
  clearTimeout(timer)
  clearInterval(watch)
  if ("stopped" in outcome) await child.stop("SIGTERM", 5_000)
  return outcome
}

const withStore = async <A>(use: (storeDir: string) => Promise<A>): Promise<A> => {
  const storeDir = await mkdtemp(join(tmpdir(), "switchyard-corpus-store-"))
  try {
    return await use(storeDir)
  } finally {
    await rm(storeDir, { recursive: true, force: true })
  }
}

/**
 * `switchyard run` as a child, embedded or against a deployment, to its exit
 * or the deadline; against a deployment also until no event came for
 * `stallMs` after a service logged an error (a run whose result can never be
 * applied is redelivered without end).
 */
const runCli = async (options: RunOptions, storeDir: string, against?: { readonly deployment: Deployment; readonly stallMs: number }) => {
  const natsUrl = against?.deployment.url
  // CPU seconds of every process of the run when the parse stage started and when it ended, read as its events arrive.
  const parseCpu: { start?: number; end?: number } = {}
  const cpuNow = () => {
    const services =
      against === undefined ? [] : [against.deployment.scheduler, ...against.deployment.executors, against.deployment.registry]
    const readings = [child, ...services].map((process) => process.cpuNow())
    readings.push(against?.deployment.natsServerCpuNow())
    return readings.reduce<number>((sum, value) => sum + (value ?? 0), 0)
  }
  const events = eventTracker((edge) => {
    parseCpu[edge] = cpuNow()
  })
  const started = performance.now()
  const child = startChild({
    label: natsUrl === undefined ? "run" : "client",
    args: [
      "run",
      options.pipeline,
      "--json",
      "--input",
      `corpus=${options.corpusDir}`,
      "--input",
      `store_dir=${storeDir}`,
      ...(natsUrl === undefined ? [] : ["--nats", natsUrl])
    ],
    onStdoutLine: events.onLine
  })
  const { seen } = events
  const stalled =
    against === undefined
      ? undefined
      : () => {
          const idle = performance.now() - seen.lastAt
          if (idle < against.stallMs) return undefined
          const error = against.deployment.errors()[0]
          return error === undefined ? undefined : `stalled: no event for ${Math.round(idle / 1000)} s after a service logged an error`
        }
  const exit = await awaitExit(child, options.deadlineMs, stalled)
  const wallSeconds = (performance.now() - started) / 1000
  const failure =
    "stopped" in exit
      ? `${exit.stopped} (last event: ${seen.last ?? "none"})`
      : exit.code === 0 && seen.status === "succeeded"
        ? undefined
        : (seen.failure ?? `exit ${exit.signal ?? exit.code}: ${lastLines(child.stderrTail(), 1)}`)
  return {
    child,
    runId: seen.runId,
    failure,
    wallSeconds,
    runSeconds: seen.startedAt !== undefined && seen.finishedAt !== undefined ? (seen.finishedAt - seen.startedAt) / 1000 : undefined,
    parseSeconds: seen.parseStart !== undefined && seen.parseEnd !== undefined ? (seen.parseEnd - seen.parseStart) / 1000 : undefined,
    parseCpuSeconds: parseCpu.start !== undefined && parseCpu.end !== undefined ? parseCpu.end - parseCpu.start : undefined
  }
}

/** `switchyard run` embedded: the whole runtime in the run's process. */
export const measureEmbedded = (options: RunOptions): Promise<Measurement> =>
  withStore(async (storeDir) => {
    const run = await runCli(options, storeDir)
    return {
      variant: "embedded",
      documents: options.documents,
      failure: run.failure,
      wallSeconds: run.wallSeconds,
      runSeconds: run.runSeconds,
      parseSeconds: run.parseSeconds,
      parseCpuSeconds: run.parseCpuSeconds,
      rss: [{ process: "run", bytes: run.child.peakRss(), cpuSeconds: run.child.cpuSeconds() }]
    }
  })

/** `switchyard run --nats` against a fresh deployment with `replicas` executors, watched on the bus. */
export const measureNats = (
  options: RunOptions & { readonly replicas: 1 | 2; readonly readyTimeoutMs: number; readonly stallMs: number }
): Promise<Measurement> =>
  withStore(async (storeDir) => {
    const variant: Variant = options.replicas === 1 ? "nats1" : "nats2"
    let deployment: Deployment | undefined
    let monitor: BusMonitor | undefined
    const started = performance.now()
    try {
      deployment = await startDeployment({ replicas: options.replicas, readyTimeoutMs: options.readyTimeoutMs })
      monitor = await monitorBus(deployment.url)
      // The services' CPU time over the run alone, not their start.
      const services = [deployment.scheduler, ...deployment.executors, deployment.registry]
      const cpuNow = () => [...services.map((child) => child.cpuNow()), deployment!.natsServerCpuNow()]
      const cpuBefore = cpuNow()
      const run = await runCli(options, storeDir, { deployment, stallMs: options.stallMs })
      const cpuAfter = cpuNow()
      const cpuOver = (index: number) =>
        cpuBefore[index] === undefined || cpuAfter[index] === undefined ? undefined : cpuAfter[index]! - cpuBefore[index]!
      const stored = run.runId === undefined ? undefined : await monitor.storedRunRecord(run.runId)
      const observed = monitor.largestRunRecord()
      const largestRunRecord = stored === undefined ? observed : Math.max(stored, observed ?? 0)
      const bus = new Map(monitor.kinds())
      await monitor.close()
      monitor = undefined
      const errors = deployment.errors()
      await deployment.stop()
      return {
        variant,
        documents: options.documents,
        failure: run.failure,
        ...(run.failure !== undefined && errors.length > 0 ? { failureDetail: errors.join(" / ") } : {}),
        wallSeconds: run.wallSeconds,
        runSeconds: run.runSeconds,
        parseSeconds: run.parseSeconds,
        parseCpuSeconds: run.parseCpuSeconds,
        rss: [
          { process: "client", bytes: run.child.peakRss(), cpuSeconds: run.child.cpuSeconds() },
          ...services.map((child, index) => ({ process: child.label, bytes: child.peakRss(), cpuSeconds: cpuOver(index) })),
          { process: "nats-server", bytes: deployment.natsServerPeakRss(), cpuSeconds: cpuOver(services.length) }
        ],
        largestRunRecord,
        bus
      }
    } catch (error) {
      await monitor?.close()
      await deployment?.stop()
      return {
        variant,
        documents: options.documents,
        failure: `deployment: ${(error instanceof Error ? error.message : String(error)).split("\n")[0]}`,
        wallSeconds: (performance.now() - started) / 1000,
        runSeconds: undefined,
        parseSeconds: undefined,
        rss: []
      }
    }
  })

/** The floor: the pipeline's stages called directly in a child process (`corpusFloorChild.ts`). */
export const measureFloor = (options: RunOptions): Promise<Measurement> =>
  withStore(async (storeDir) => {
    let result: FloorResult | undefined
    const started = performance.now()
    const child = startChild({
      label: "floor",
      script: floorChild,
      args: [options.pipeline, `corpus=${options.corpusDir}`, `store_dir=${storeDir}`],
      onStdoutLine: (line) => {
        if (line.startsWith("{")) result = JSON.parse(line) as FloorResult
      }
    })
    const exit = await awaitExit(child, options.deadlineMs)
    const wallSeconds = (performance.now() - started) / 1000
    const failure =
      "stopped" in exit
        ? exit.stopped
        : exit.code === 0 && result !== undefined
          ? undefined
          : `exit ${exit.signal ?? exit.code}: ${lastLines(child.stderrTail(), 1)}`
    return {
      variant: "floor",
      documents: options.documents,
      failure,
      wallSeconds,
      runSeconds: result?.loopSeconds,
      parseSeconds: result?.stageSeconds.find(([stage]) => stage === "parse")?.[1],
      rss: [{ process: "floor", bytes: child.peakRss(), cpuSeconds: child.cpuSeconds() }]
    }
  })
