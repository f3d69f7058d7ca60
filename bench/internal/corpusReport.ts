/**
 * Printing the corpus benchmark: the corpora, one table of every
 * measurement side by side (throughput and its ratio to the floor, the run's
 * own time and its parse stage's, peak RSS per process, the largest run
 * record and bus message), the parse stage with one and two replicas, the
 * largest messages per subject kind of each run over NATS, the failures in
 * full, and the targets with what was measured.
 */
import type { GeneratedCorpus } from "../../test/support/corpus.ts"
import { rate, type Target, targetTable } from "./report.ts"
import type { Measurement } from "./corpusRuns.ts"

const table = (header: ReadonlyArray<string>, rows: ReadonlyArray<ReadonlyArray<string>>, leftColumns = 1): string => {
  const widths = header.map((title, column) => Math.max(title.length, ...rows.map((row) => (row[column] ?? "").length)))
  const line = (cells: ReadonlyArray<string>) =>
    cells
      .map((cell, column) => (column < leftColumns ? cell.padEnd(widths[column]!) : cell.padStart(widths[column]!)))
      .join("  ")
      .trimEnd()
  return [line(header), widths.map((width) => "-".repeat(width)).join("  "), ...rows.map(line)].join("\n")
}

/** Bytes as KiB or MiB. */
export const size = (bytes: number | undefined): string =>
  bytes === undefined ? "-" : bytes < 1024 * 1024 ? `${(bytes / 1024).toFixed(1)} KiB` : `${(bytes / 1024 / 1024).toFixed(1)} MiB`
const mb = (bytes: number | undefined) => (bytes === undefined ? "-" : `${Math.round(bytes / 1024 / 1024)}`)
const seconds = (value: number | undefined) => (value === undefined ? "-" : value < 10 ? value.toFixed(2) : value.toFixed(1))
const short = (text: string, width = 48) => (text.length <= width ? text : `${text.slice(0, width - 1)}…`)

/** Documents per second by wall time. */
export const docsPerSecond = (measurement: Measurement): number => measurement.documents / measurement.wallSeconds

/** The floor measured on the same corpus, when it succeeded. */
const floorOf = (all: ReadonlyArray<Measurement>, documents: number) =>
  all.find((other) => other.variant === "floor" && other.documents === documents && other.failure === undefined)

const rssOf = (measurement: Measurement, process: string) => measurement.rss.find((entry) => entry.process === process)?.bytes
const executorsRss = (measurement: Measurement) => {
  const executors = measurement.rss.filter((entry) => entry.process.startsWith("executor"))
  return executors.length === 0 ? "-" : executors.map((entry) => mb(entry.bytes)).join("+")
}

/** The largest message on the bus and its subject kind. */
export const largestMessage = (measurement: Measurement): { readonly kind: string; readonly bytes: number } | undefined => {
  let best: { kind: string; bytes: number } | undefined
  for (const [kind, stats] of measurement.bus ?? [])
    if (best === undefined || stats.largest > best.bytes) best = { kind, bytes: stats.largest }
  return best
}

/** The corpora generated. */
export const corpusTable = (corpora: ReadonlyArray<GeneratedCorpus & { readonly seconds: number }>): string =>
  table(
    ["corpus", "Markdown", "PDF", "size", "avg per doc", "generated in"],
    corpora.map((corpus) => [
      `${rate(corpus.documents)} docs`,
      rate(corpus.markdown),
      rate(corpus.pdfs),
      size(corpus.bytes),
      `${(corpus.bytes / Math.max(1, corpus.documents) / 1024).toFixed(1)} KiB`,
      `${seconds(corpus.seconds)} s`
    ])
  )

/** Every measurement side by side. */
export const measurementTable = (all: ReadonlyArray<Measurement>): string =>
  table(
    [
      "docs",
      "variant",
      "outcome",
      "wall s",
      "docs/s",
      "vs floor",
      "run s",
      "parse s",
      "RSS MB: run/client",
      "scheduler",
      "executor(s)",
      "registry",
      "nats-server",
      "largest run record",
      "largest bus message"
    ],
    all.map((measurement) => {
      const floor = floorOf(all, measurement.documents)
      const ratio =
        measurement.failure === undefined && floor !== undefined && measurement.variant !== "floor"
          ? `${((docsPerSecond(measurement) / docsPerSecond(floor)) * 100).toFixed(0)} %`
          : "-"
      const largest = largestMessage(measurement)
      return [
        rate(measurement.documents),
        measurement.variant,
        measurement.failure === undefined ? "ok" : `failed: ${short(measurement.failure)}`,
        seconds(measurement.wallSeconds),
        measurement.failure === undefined ? rate(docsPerSecond(measurement)) : "-",
        ratio,
        seconds(measurement.runSeconds),
        seconds(measurement.parseSeconds),
        mb(rssOf(measurement, "run") ?? rssOf(measurement, "client") ?? rssOf(measurement, "floor")),
        mb(rssOf(measurement, "scheduler")),
        executorsRss(measurement),
        mb(rssOf(measurement, "registry")),
        mb(rssOf(measurement, "nats-server")),
        measurement.variant.startsWith("nats") ? size(measurement.largestRunRecord) : "-",
        largest === undefined ? "-" : `${size(largest.bytes)} ${largest.kind}`
      ]
    }),
    3
  )

/** The parse stage with one and two replicas, per corpus. */
export const parseTable = (all: ReadonlyArray<Measurement>, sizes: ReadonlyArray<number>, cores: number): string =>
  table(
    [
      "docs",
      "parse s: floor",
      "embedded",
      "NATS, 1 replica",
      "NATS, 2 replicas",
      "2 replicas vs 1",
      "cores busy in parse: embedded",
      "1 replica",
      "2 replicas"
    ],
    sizes.map((documents) => {
      const measured = (variant: string) => all.find((m) => m.variant === variant && m.documents === documents)
      const parse = (variant: string) => measured(variant)?.parseSeconds
      // The CPU all the run's processes used while the stage ran, over its duration times the cores.
      const busy = (variant: string) => {
        const measurement = measured(variant)
        const cpu = measurement?.parseCpuSeconds
        const span = measurement?.parseSeconds
        return cpu === undefined || span === undefined || span <= 0 ? "-" : `${Math.min(100, (cpu / (span * cores)) * 100).toFixed(0)} %`
      }
      const one = parse("nats1")
      const two = parse("nats2")
      return [
        rate(documents),
        seconds(parse("floor")),
        seconds(parse("embedded")),
        seconds(one),
        seconds(two),
        one !== undefined && two !== undefined && two > 0 ? `${(one / two).toFixed(2)}x` : "-",
        busy("embedded"),
        busy("nats1"),
        busy("nats2")
      ]
    })
  )

/**
 * CPU seconds (user and system) each process of a run used, and how busy the machine's cores
 * were: the processes' CPU time over wall time times `cores`. Near 100 % the run is bound by the
 * CPU the machine has, whatever the processes do with it.
 */
export const cpuTable = (all: ReadonlyArray<Measurement>, cores: number): string => {
  const cpu = (measurement: Measurement, process: string) => measurement.rss.find((entry) => entry.process === process)?.cpuSeconds
  return table(
    ["docs", "variant", "CPU s: run/client", "scheduler", "executor(s)", "registry", "nats-server", "total", `of ${cores} cores`],
    all.map((measurement) => {
      const total = measurement.rss.reduce((sum, entry) => sum + (entry.cpuSeconds ?? 0), 0)
      const executors = measurement.rss.filter((entry) => entry.process.startsWith("executor"))
      return [
        rate(measurement.documents),
        measurement.variant,
        seconds(cpu(measurement, "run") ?? cpu(measurement, "client") ?? cpu(measurement, "floor")),
        seconds(cpu(measurement, "scheduler")),
        executors.length === 0 ? "-" : executors.map((entry) => seconds(entry.cpuSeconds)).join("+"),
        seconds(cpu(measurement, "registry")),
        seconds(cpu(measurement, "nats-server")),
        seconds(total),
        total > 0 ? `${((total / (measurement.wallSeconds * cores)) * 100).toFixed(0)} %` : "-"
      ]
    }),
    2
  )
}

/** The largest messages per subject kind of each run over NATS. */
export const busTable = (all: ReadonlyArray<Measurement>, kindsPerRun = 8): string =>
  table(
    ["docs", "variant", "subject kind", "largest", "messages", "bytes"],
    all
      .filter((measurement) => measurement.bus !== undefined)
      .flatMap((measurement) =>
        [...measurement.bus!.entries()]
          .sort((a, b) => b[1].largest - a[1].largest)
          .slice(0, kindsPerRun)
          .map(([kind, stats]) => [
            rate(measurement.documents),
            measurement.variant,
            kind,
            size(stats.largest),
            rate(stats.messages),
            size(stats.bytes)
          ])
      ),
    3
  )

/** Each failure in full. */
export const failureLines = (all: ReadonlyArray<Measurement>): ReadonlyArray<string> =>
  all
    .filter((measurement) => measurement.failure !== undefined)
    .map(
      (measurement) =>
        `${rate(measurement.documents)} docs, ${measurement.variant}: ${measurement.failure}${
          measurement.failureDetail === undefined ? "" : `\n    services logged: ${measurement.failureDetail}`
        }`
    )

const unmeasured = (name: string, goal: string): Target => ({ name, measured: "-", goal, met: undefined })

/** The targets the issue sets, with what this run measured. */
export const targets = (all: ReadonlyArray<Measurement>): ReadonlyArray<Target> => {
  const find = (variant: string, documents: number) => all.find((m) => m.variant === variant && m.documents === documents)

  const complete = (["nats1", "nats2"] as const).map((variant): Target => {
    const name = `10,000 docs complete over NATS (${variant === "nats1" ? "1 replica" : "2 replicas"})`
    const measurement = find(variant, 10_000)
    if (measurement === undefined) return unmeasured(name, "succeeds")
    return {
      name,
      measured:
        measurement.failure === undefined
          ? `succeeded in ${seconds(measurement.wallSeconds)} s`
          : `failed: ${short(measurement.failure, 60)}`,
      goal: "succeeds",
      met: measurement.failure === undefined
    }
  })

  const embeddedVsFloor = ((): Target => {
    const name = "embedded docs/s vs the floor at 1,000 docs"
    const embedded = find("embedded", 1_000)
    const floor = find("floor", 1_000)
    if (embedded === undefined || floor === undefined || floor.failure !== undefined) return unmeasured(name, ">= 80 %")
    if (embedded.failure !== undefined) return { name, measured: `failed: ${short(embedded.failure, 60)}`, goal: ">= 80 %", met: false }
    const ratio = docsPerSecond(embedded) / docsPerSecond(floor)
    return {
      name,
      measured: `${(ratio * 100).toFixed(0)} % (${rate(docsPerSecond(embedded))} / ${rate(docsPerSecond(floor))} docs/s)`,
      goal: ">= 80 %",
      met: ratio >= 0.8
    }
  })()

  const replicas = ((): Target => {
    const name = "parse stage, 2 replicas vs 1 (largest corpus with both)"
    const sizes = [...new Set(all.map((m) => m.documents))].sort((a, b) => b - a)
    for (const documents of sizes) {
      const one = find("nats1", documents)?.parseSeconds
      const two = find("nats2", documents)?.parseSeconds
      if (one === undefined || two === undefined || two <= 0) continue
      const speedup = one / two
      return {
        name,
        measured: `${speedup.toFixed(2)}x at ${rate(documents)} docs (${seconds(one)} s / ${seconds(two)} s)`,
        goal: ">= 1.5x",
        met: speedup >= 1.5
      }
    }
    return unmeasured(name, ">= 1.5x")
  })()

  const schedulerRss = ((): Target => {
    const name = "scheduler peak RSS (largest over the runs)"
    const peaks = all.flatMap((m) => m.rss.filter((entry) => entry.process === "scheduler" && entry.bytes !== undefined))
    if (peaks.length === 0) return unmeasured(name, "< 300 MB")
    const peak = Math.max(...peaks.map((entry) => entry.bytes!))
    return { name, measured: `${mb(peak)} MB`, goal: "< 300 MB", met: peak < 300 * 1024 * 1024 }
  })()

  const runRecord = ((): Target => {
    const name = "largest run record at 10,000 docs"
    const runs = ["nats1", "nats2"].flatMap((variant) => {
      const measurement = find(variant, 10_000)
      return measurement?.largestRunRecord === undefined ? [] : [measurement]
    })
    if (runs.length === 0) return unmeasured(name, "< 64 KiB")
    const largest = Math.max(...runs.map((measurement) => measurement.largestRunRecord!))
    // A run that stopped early wrote a record of a run that never grew to its end: not a pass.
    const failed = runs.some((measurement) => measurement.failure !== undefined)
    return {
      name,
      measured: failed ? `${size(largest)} (a run failed before its end)` : size(largest),
      goal: "< 64 KiB",
      met: !failed && largest < 64 * 1024
    }
  })()

  return [...complete, embeddedVsFloor, replicas, schedulerRss, runRecord]
}

export { targetTable }
