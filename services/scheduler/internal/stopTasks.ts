/**
 * The scheduler's half of cancelling a run's running tasks: it subscribes to
 * `task.cancelled.<runId>` first (so no confirmation is missed), publishes
 * the `TaskCancel` notice on `task.cancel.<runId>` for every executor
 * replica, and collects the task ids the replicas confirm stopping until all
 * the tasks in flight are confirmed or the deadline passes. A task still
 * queued is never confirmed: no replica holds it.
 */
import { Duration, Effect, Option, Stream } from "effect"
import type { Bus } from "@switchyard/bus/Bus"
import { decode, encode } from "@switchyard/schemas/Codec"
import type { Names } from "@switchyard/schemas/Subjects"
import { WireType } from "@switchyard/schemas/Catalog"
import { TaskCancel, TaskCancelled } from "@switchyard/schemas/Task"

const decodeCancelled = decode(TaskCancelled, WireType.TaskCancelled)

/** Asks the executors to stop the run's tasks; returns the task ids they confirmed stopping. */
export const stopTasks = (options: {
  readonly bus: Bus["Service"]
  readonly names: Names
  readonly runId: string
  /** Task ids of the run that were dispatched when it was cancelled. */
  readonly inFlight: ReadonlyArray<string>
  readonly reason: string | undefined
  readonly timeout: Duration.Duration
}) =>
  Effect.scoped(
    Effect.gen(function* () {
      const { bus, inFlight, names, reason, runId } = options
      const stopped = new Set<string>()
      const confirmations = yield* bus.subscribe(names.taskCancelled(runId))
      const notice = encode(
        TaskCancel,
        WireType.TaskCancel,
        new TaskCancel({ version: 1, runId, ...(reason === undefined ? {} : { reason }) })
      )
      yield* bus.publish(names.taskCancel(runId), notice.data, { headers: notice.headers })
      yield* confirmations.pipe(
        Stream.mapEffect((message) => Effect.option(decodeCancelled(message))),
        Stream.runForEachWhile((confirmation) =>
          Effect.sync(() => {
            if (Option.isSome(confirmation)) for (const taskId of confirmation.value.taskIds) stopped.add(taskId)
            return !inFlight.every((taskId) => stopped.has(taskId))
          })
        ),
        Effect.timeoutOption(options.timeout)
      )
      const missing = inFlight.filter((taskId) => !stopped.has(taskId))
      if (missing.length > 0) {
        yield* Effect.logInfo(
          `no executor confirmed stopping task(s) ${missing.join(", ")} of cancelled run ${runId}; they may still be queued`
        )
      }
      return [...stopped]
    })
  )
