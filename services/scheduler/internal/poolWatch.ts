/**
 * The scheduler's watch over dispatched tasks that no replica answered yet.
 * Once a task has waited `after`, its stage type is looked up in the registry
 * on every check; when no live executor of the task's pool serves it (the
 * type is not registered, its pool is offline, or another pool took it over)
 * the task is reported once and no longer watched. Tasks leave the watch when
 * their result arrives or their stage moved on, so its size follows the tasks
 * in flight.
 */
import { Clock, Duration, Effect } from "effect"
import type { StageResolveReply } from "@switchyard/schemas/Registry"

/** One attempt of one task of a run, with the pool it was sent to. */
export interface WatchedTask {
  readonly runId: string
  readonly stage: string
  readonly stageType: string
  readonly taskId: string
  readonly attempt: number
  readonly pool: string
  /** When it was dispatched (epoch ms). */
  readonly since: number
}

const keyOf = (task: { readonly taskId: string; readonly attempt: number }) => `${task.taskId}:${task.attempt}`

/** A watch reporting tasks whose pool has no live executor once they waited `after`. */
export const makePoolWatch = <E1, E2>(options: {
  readonly after: Duration.Duration
  /** Whether the run still waits for this attempt of this task. */
  readonly owed: (task: WatchedTask) => boolean
  readonly resolve: (types: ReadonlyArray<string>) => Effect.Effect<StageResolveReply, E1>
  readonly report: (task: WatchedTask) => Effect.Effect<unknown, E2>
}) => {
  const watched = new Map<string, WatchedTask>()
  const afterMs = Duration.toMillis(options.after)

  const check = Effect.gen(function* () {
    const now = yield* Clock.currentTimeMillis
    const due: Array<WatchedTask> = []
    for (const [key, task] of watched) {
      if (!options.owed(task)) watched.delete(key)
      else if (now - task.since >= afterMs) due.push(task)
    }
    if (due.length === 0) return
    const reply = yield* options.resolve([...new Set(due.map((task) => task.stageType))])
    const known = new Map(reply.found.map((stage) => [stage.metadata.type, stage] as const))
    for (const task of due) {
      const serving = known.get(task.stageType)
      if (serving !== undefined && serving.online && serving.pool === task.pool) continue
      watched.delete(keyOf(task))
      yield* Effect.logWarning(`run ${task.runId}: stage ${task.stage} is unschedulable: no live executor serves pool ${task.pool}`)
      yield* options.report(task)
    }
  }).pipe(Effect.catchCause((cause) => Effect.logWarning("checking the pools of dispatched tasks failed; checking again later", cause)))

  return {
    /** Starts watching a dispatched task. */
    watch: (task: WatchedTask): void => void watched.set(keyOf(task), task),
    /** Stops watching a task whose result arrived. */
    answered: (task: { readonly taskId: string; readonly attempt: number }): void => void watched.delete(keyOf(task)),
    /** One pass over the watched tasks; never fails. */
    check,
    /** How often to check: half the threshold, between 10 ms and 5 seconds. */
    interval: Duration.millis(Math.max(10, Math.min(5000, afterMs / 2)))
  }
}
