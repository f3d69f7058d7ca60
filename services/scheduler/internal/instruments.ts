/**
 * What the scheduler measures, as Effect metrics (exported through
 * OpenTelemetry by the telemetry layer, and on `/metrics`): runs started and
 * finished by status with their duration, how long applying a result takes,
 * tasks dead-lettered, and what it holds in memory (live runs, `for_each`
 * item lists loaded). `docs/reference/metrics.md` lists them.
 */
import { Effect, Metric } from "effect"
import type { RunRecord } from "@switchyard/schemas/RunRecord"
import type { EventMessage } from "../RunActor.ts"

/** Seconds, from 5 ms to about 20 minutes (applying a result: the low buckets). */
const secondBoundaries = Metric.exponentialBoundaries({ start: 0.0005, factor: 2.5, count: 18 })

const runsStarted = Metric.counter("switchyard.runs.started", { description: "Runs started", incremental: true })

const runsFinished = Metric.counter("switchyard.runs.finished", {
  description: "Runs finished, by status",
  incremental: true
})

const runDuration = Metric.histogram("switchyard.run.duration", {
  description: "Duration of a run from its submit to its end, in seconds, by status",
  boundaries: secondBoundaries
})

const applyDuration = Metric.histogram("switchyard.scheduler.apply.duration", {
  description: "Time to apply one task result to its run (the transition saved), in seconds",
  boundaries: secondBoundaries
})

const deadLetters = Metric.counter("switchyard.task.dead_letters", {
  description: "Tasks no replica could finish (dead-lettered), by pool and stage type",
  incremental: true
})

/** Records what the events of a saved transition say of its run: started, or finished. */
export const recordRunEvents = (record: RunRecord, events: ReadonlyArray<EventMessage>): Effect.Effect<void> =>
  Effect.forEach(
    events,
    (event) => {
      if (event.kind === "run.started") return Metric.update(runsStarted, 1)
      if (event.kind !== "run.finished") return Effect.void
      const status = { "switchyard.run.status": event.status }
      return Effect.all(
        [
          Metric.update(Metric.withAttributes(runsFinished, status), 1),
          Metric.update(Metric.withAttributes(runDuration, status), Math.max(0, event.at - record.createdAt) / 1000)
        ],
        { discard: true }
      )
    },
    { discard: true }
  )

/** Records how long applying a result took. */
export const recordApply = (millis: number): Effect.Effect<void> => Metric.update(applyDuration, millis / 1000)

/** Records a task dead-lettered. */
export const recordDeadLetter = (pool: string, stageType: string): Effect.Effect<void> =>
  Metric.update(Metric.withAttributes(deadLetters, { "switchyard.pool": pool, "switchyard.stage.type": stageType }), 1)

const runsLive = Metric.gauge("switchyard.scheduler.runs.live", {
  description: "Runs this scheduler holds in memory (running, or finished and not yet let go)"
})

const itemListsHeld = Metric.gauge("switchyard.scheduler.item_lists.held", {
  description: "Item lists of for_each stages this scheduler holds in memory"
})

/** Records what the scheduler holds in memory now. */
export const recordHeld = (held: { readonly runs: number; readonly itemLists: number }): Effect.Effect<void> =>
  Effect.all([Metric.update(runsLive, held.runs), Metric.update(itemListsHeld, held.itemLists)], { discard: true })
