/**
 * What an executor replica measures, as Effect metrics (exported through
 * OpenTelemetry by the telemetry layer, and on `/metrics`): each task's
 * duration and outcome by stage type and pool, what a process plugin's
 * process measured (exit code, peak memory), redeliveries, and where the
 * pool's queue stands. Names and attributes follow OpenTelemetry's naming
 * rules; `docs/reference/metrics.md` lists them.
 */
import { Effect, Metric } from "effect"
import type { TaskMetrics } from "@switchyard/schemas/Task"
import type { ConsumerStats } from "@switchyard/bus/Bus"

/** Seconds, from 5 ms to about 20 minutes. */
const secondBoundaries = Metric.exponentialBoundaries({ start: 0.005, factor: 2.5, count: 15 })

/** Bytes, from 16 MiB to 8 GiB. */
const byteBoundaries = Metric.exponentialBoundaries({ start: 16 * 1024 * 1024, factor: 2, count: 10 })

const taskDuration = Metric.histogram("switchyard.task.duration", {
  description: "Duration of a task on its executor, in seconds, by stage type, pool and outcome",
  boundaries: secondBoundaries
})

const tasks = Metric.counter("switchyard.tasks", {
  description: "Tasks run, by stage type, pool and outcome",
  incremental: true
})

const redeliveries = Metric.counter("switchyard.task.redeliveries", {
  description: "Tasks received again after an earlier delivery was not acknowledged, by pool",
  incremental: true
})

const pluginExits = Metric.counter("switchyard.plugin.exits", {
  description: "Process plugin processes that ended, by stage type and exit code (or signal)",
  incremental: true
})

const pluginPeakMemory = Metric.histogram("switchyard.plugin.memory.peak", {
  description: "Peak resident memory of a process plugin's process during a task, in bytes, by stage type",
  boundaries: byteBoundaries
})

const queueDepth = Metric.gauge("switchyard.queue.depth", {
  description: "Tasks stored for a pool and not yet delivered to a replica"
})

const pendingAcks = Metric.gauge("switchyard.queue.pending_acks", {
  description: "Tasks of a pool delivered to replicas and not yet acknowledged"
})

/** How a task ended, as the `switchyard.task.outcome` attribute says it. */
export type TaskOutcome = "succeeded" | "failed" | "waiting" | "cancelled"

/** Records one task that ended on this replica. */
export const recordTask = (options: {
  readonly stageType: string
  readonly pool: string
  readonly outcome: TaskOutcome
  readonly durationMs: number
  readonly metrics: TaskMetrics | undefined
}): Effect.Effect<void> => {
  const attributes = {
    "switchyard.stage.type": options.stageType,
    "switchyard.pool": options.pool,
    "switchyard.task.outcome": options.outcome
  }
  const measured = options.metrics
  const process =
    measured === undefined
      ? Effect.void
      : Effect.all(
          [
            measured.exitCode === undefined && measured.signal === undefined
              ? Effect.void
              : Metric.update(
                  Metric.withAttributes(pluginExits, {
                    "switchyard.stage.type": options.stageType,
                    "process.exit.code": measured.exitCode === undefined ? "" : String(measured.exitCode),
                    "process.exit.signal": measured.signal ?? ""
                  }),
                  1
                ),
            measured.peakRssBytes === undefined
              ? Effect.void
              : Metric.update(
                  Metric.withAttributes(pluginPeakMemory, { "switchyard.stage.type": options.stageType }),
                  measured.peakRssBytes
                )
          ],
          { discard: true }
        )
  return Effect.all(
    [
      Metric.update(Metric.withAttributes(taskDuration, attributes), options.durationMs / 1000),
      Metric.update(Metric.withAttributes(tasks, attributes), 1),
      process
    ],
    { discard: true }
  )
}

/** Records a task received again (its delivery count above one). */
export const recordRedelivery = (pool: string): Effect.Effect<void> =>
  Metric.update(Metric.withAttributes(redeliveries, { "switchyard.pool": pool }), 1)

/** Records where the pool's queue stands. */
export const recordQueue = (pool: string, stats: ConsumerStats): Effect.Effect<void> => {
  const attributes = { "switchyard.pool": pool }
  return Effect.all(
    [
      Metric.update(Metric.withAttributes(queueDepth, attributes), stats.waiting),
      Metric.update(Metric.withAttributes(pendingAcks, attributes), stats.ackPending)
    ],
    { discard: true }
  )
}
