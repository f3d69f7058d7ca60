/**
 * Printing the dispatch benchmark: one table of latency and throughput per
 * scenario side by side, the embedded breakdown, and the targets with the
 * measured ratio and whether each is met (the telemetry comparison has its
 * own tables, in `telemetryReport.ts`, built from these helpers).
 */
import type { ScenarioResult } from "./rawNats.ts"

/** A scenario's row: its result, or why it could not be measured. */
export interface Row {
  readonly name: string
  readonly result: ScenarioResult | string
}

/** One line of the embedded breakdown. */
export interface Breakdown {
  readonly name: string
  readonly perSec: number | string
}

/** One target and how the measurement compares. */
export interface Target {
  readonly name: string
  readonly measured: string
  readonly goal: string
  /** `undefined` when a part of the ratio could not be measured. */
  readonly met: boolean | undefined
  /** Shown instead of the verdict, for a figure reported without a goal. */
  readonly verdict?: string
}

/** Formats milliseconds with the precision their size calls for. */
export const ms = (value: number) =>
  value < 1 ? `${value.toFixed(3)} ms` : value < 100 ? `${value.toFixed(2)} ms` : `${value.toFixed(0)} ms`

/** Formats a rate with thousands separators. */
export const rate = (value: number) => Math.round(value).toLocaleString("en-US")

/** A plain-text table; columns from `rightFrom` on are right-aligned. */
export const table = (header: ReadonlyArray<string>, rows: ReadonlyArray<ReadonlyArray<string>>, rightFrom = 1): string => {
  const widths = header.map((title, column) => Math.max(title.length, ...rows.map((row) => (row[column] ?? "").length)))
  const line = (cells: ReadonlyArray<string>) =>
    cells.map((cell, column) => (column < rightFrom ? cell.padEnd(widths[column]!) : cell.padStart(widths[column]!))).join("  ")
  return [line(header), widths.map((width) => "-".repeat(width)).join("  "), ...rows.map(line)].join("\n")
}

/** The scenario table. */
export const scenarioTable = (rows: ReadonlyArray<Row>): string =>
  table(
    ["scenario", "seq n", "seq p50", "seq p99", "seq ops/s", "| in flight", "n", "ops/s", "p50 @load", "p99 @load"],
    rows.map(({ name, result }) =>
      typeof result === "string"
        ? [name, `not measured: ${result}`]
        : [
            name,
            String(result.sequential.latency.samples),
            ms(result.sequential.latency.p50),
            ms(result.sequential.latency.p99),
            rate(result.sequential.opsPerSec),
            `| ${result.concurrent.inFlight}`,
            String(result.concurrent.total),
            rate(result.concurrent.opsPerSec),
            ms(result.concurrent.latency.p50),
            ms(result.concurrent.latency.p99)
          ]
    )
  )

/** The embedded breakdown table. */
export const breakdownTable = (lines: ReadonlyArray<Breakdown>): string =>
  table(
    ["embedded, where the time goes", "tasks/s"],
    lines.map(({ name, perSec }) => [name, typeof perSec === "string" ? perSec : rate(perSec)])
  )

/** The targets table. */
export const targetTable = (targets: ReadonlyArray<Target>): string =>
  table(
    ["target", "measured", "goal", "verdict"],
    targets.map((target) => [
      target.name,
      target.measured,
      target.goal,
      target.verdict ?? (target.met === undefined ? "not measured" : target.met ? "MET" : "NOT MET")
    ]),
    Number.POSITIVE_INFINITY
  )

/** The middle value (the mean of the two middle ones for an even count). */
export const median = (values: ReadonlyArray<number>): number => {
  const sorted = [...values].sort((a, b) => a - b)
  const middle = Math.floor(sorted.length / 2)
  return sorted.length === 0 ? Number.NaN : sorted.length % 2 === 1 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2
}

/** A median with the range it came from: `4.65 [4.40, 4.90]`. */
export const spread = (values: ReadonlyArray<number>, format: (value: number) => string): string =>
  values.length === 0 ? "-" : `${format(median(values))} [${format(Math.min(...values))}, ${format(Math.max(...values))}]`
