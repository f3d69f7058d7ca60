/**
 * The tasks a replica is running, by run, so a cancel notice
 * (`task.cancel.<runId>`) can stop the ones of a cancelled run: each entry
 * holds the fiber running the task and its leased message. It also remembers
 * the most recently cancelled runs, so a task of one that is leased after
 * its notice (it was still queued) is acked without running.
 */
import type { Fiber } from "effect"
import type { JobMessage } from "@switchyard/bus/Bus"

/** One task running on this replica. */
export interface RunningTask {
  readonly runId: string
  readonly taskId: string
  readonly message: JobMessage
  readonly fiber: Fiber.Fiber<unknown, unknown>
}

/** Cancelled runs remembered; older ones are forgotten first. */
const rememberedRuns = 1024

/** Running tasks by run, and the runs cancelled lately. */
export class RunningTasks {
  private readonly byRun = new Map<string, Set<RunningTask>>()
  private readonly cancelled = new Set<string>()

  /** Records a task that starts running on `fiber`. */
  track(task: RunningTask): RunningTask {
    const tasks = this.byRun.get(task.runId)
    if (tasks === undefined) this.byRun.set(task.runId, new Set([task]))
    else tasks.add(task)
    return task
  }

  /** Forgets a task that ended. */
  untrack(task: RunningTask): void {
    const tasks = this.byRun.get(task.runId)
    if (tasks === undefined) return
    tasks.delete(task)
    if (tasks.size === 0) this.byRun.delete(task.runId)
  }

  /** Whether the run was cancelled lately. */
  isCancelled(runId: string): boolean {
    return this.cancelled.has(runId)
  }

  /** Marks the run cancelled and hands over the tasks of it running here (no longer tracked). */
  cancel(runId: string): ReadonlyArray<RunningTask> {
    this.cancelled.add(runId)
    if (this.cancelled.size > rememberedRuns) this.cancelled.delete(this.cancelled.values().next().value!)
    const tasks = this.byRun.get(runId)
    this.byRun.delete(runId)
    return tasks === undefined ? [] : [...tasks]
  }
}
