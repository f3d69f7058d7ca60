/**
 * Lease renewal for every task a replica runs, from one fiber. A task is
 * tracked from start to finish; once it has run for `interval` the keeper
 * renews its lease (`working`), and again every `interval` after that, until
 * it is untracked. Tracking is a Set insertion and nothing is forked or
 * scheduled per task, so a quick task costs no timer at all.
 *
 * Every renewal deadline is "now + interval" when it is set, so insertion
 * order is deadline order and the keeper only looks at the head. Because the
 * fiber never sleeps longer than `interval`, a task tracked while it sleeps
 * never falls due before the fiber wakes, and nothing needs to wake it early.
 */
import { type Clock, Duration, Effect } from "effect"
import type { JobMessage } from "@switchyard/bus/Bus"

/** A tracked task: its message, what its logs are annotated with, and when its lease is next renewed. */
export interface Lease {
  readonly message: JobMessage
  readonly annotations: Readonly<Record<string, unknown>>
  renewAt: number
}

/** The renewals of one replica's running tasks. */
export class LeaseKeeper {
  private readonly clock: Clock.Clock
  private readonly intervalMs: number
  private readonly leases = new Set<Lease>()

  constructor(options: { readonly clock: Clock.Clock; readonly interval: Duration.Duration }) {
    this.clock = options.clock
    this.intervalMs = Math.max(1, Duration.toMillis(options.interval))
  }

  /** Starts renewing the lease of a task that starts now. */
  track(message: JobMessage, annotations: Readonly<Record<string, unknown>>): Lease {
    const lease: Lease = { message, annotations, renewAt: this.clock.currentTimeMillisUnsafe() + this.intervalMs }
    this.leases.add(lease)
    return lease
  }

  /** Stops renewing it (the task finished or was interrupted). */
  untrack(lease: Lease): void {
    this.leases.delete(lease)
  }

  /** Tasks tracked now. */
  get size(): number {
    return this.leases.size
  }

  /** The renewing fiber; fork it in the replica's scope, closed after running tasks drain. */
  get run(): Effect.Effect<never> {
    const renew = (lease: Lease) =>
      lease.message.working.pipe(
        Effect.catch((error) =>
          Effect.logDebug("could not renew a task lease", { seq: lease.message.seq, error: error.message }).pipe(
            Effect.annotateLogs(lease.annotations)
          )
        )
      )
    return Effect.forever(
      Effect.suspend(() => {
        const now = this.clock.currentTimeMillisUnsafe()
        const due: Array<Lease> = []
        for (const lease of this.leases) {
          if (lease.renewAt > now) break
          due.push(lease)
        }
        // Re-inserting moves each renewed lease behind the others: the order stays the deadline order.
        for (const lease of due) {
          this.leases.delete(lease)
          lease.renewAt = now + this.intervalMs
          this.leases.add(lease)
        }
        const sleep = Effect.suspend(() => {
          const after = this.clock.currentTimeMillisUnsafe()
          let next = after + this.intervalMs
          for (const lease of this.leases) {
            next = Math.min(next, lease.renewAt)
            break
          }
          return this.clock.sleep(Duration.millis(Math.max(0, next - after)))
        })
        return due.length === 0 ? sleep : Effect.andThen(Effect.forEach(due, renew, { concurrency: "unbounded", discard: true }), sleep)
      })
    )
  }
}
