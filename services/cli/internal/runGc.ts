/**
 * `switchyard runs gc`: runs the collector of finished runs and unnamed
 * blobs against a deployment over NATS and prints what it did, as a few
 * lines or, with `--json`, the report as one JSON object. Warnings (records,
 * item results or blobs that could not be read, blobs named but missing) go
 * to stderr as lines of their own; they do not fail the command.
 */
import { ByteSize, Console, Duration, Effect, Layer } from "effect"
import { RunGc, RunStore } from "../../scheduler/index.ts"
import type { GcReport } from "../../scheduler/index.ts"
import { busLayer } from "./busLayer.ts"

// Run ids printed by the summary; the rest are counted.
const shownRuns = 20

const at = (epochMillis: number): string => (Number.isFinite(epochMillis) ? new Date(epochMillis).toISOString() : "the beginning")

/** The plain summary of a report. */
export const formatGcReport = (report: GcReport): string => {
  const verb = report.dryRun ? "would delete" : "deleted"
  const keep = report.dryRun ? "would keep" : "kept"
  const hidden = report.runsDeleted.length - shownRuns
  return [
    ...(report.dryRun ? ["dry run: nothing was deleted"] : []),
    `runs: ${verb} ${report.runsDeleted.length} finished before ${at(report.runsFinishedBefore)}, ${keep} ${report.runsKept}`,
    ...report.runsDeleted.slice(0, shownRuns).map((runId) => `  ${runId}`),
    ...(hidden > 0 ? [`  … and ${hidden} more`] : []),
    `item results: ${verb} ${report.itemsDeleted}`,
    `blobs: ${verb} ${report.blobsDeleted} (${ByteSize.format(ByteSize.bytes(report.bytesFreed))}) named by nothing and stored before ${at(report.blobsStoredBefore)}, ${keep} ${report.blobsKept}`
  ].join("\n")
}

/** Collects against the deployment at `url` and prints the report. */
export const runGc = (options: {
  readonly url: string
  readonly retention: Duration.Duration
  readonly grace: Duration.Duration
  readonly dryRun: boolean
  readonly json: boolean
}) =>
  RunGc.use((gc) => gc.collect({ retention: options.retention, grace: options.grace, dryRun: options.dryRun })).pipe(
    Effect.provide(RunGc.layer.pipe(Layer.provide(RunStore.layer), Layer.provideMerge(busLayer(options.url)))),
    Effect.tap((report) => Effect.forEach(report.warnings, (warning) => Console.error(`warning: ${warning}`), { discard: true })),
    Effect.flatMap((report) => Console.log(options.json ? JSON.stringify(report) : formatGcReport(report)))
  )
