/**
 * Timeouts of many pending waits (the in-memory bus's requests, a warm
 * pool's tasks): one Clock-driven timer fiber (a `TimerLoop`) for all of
 * them, rather than a timer and a race per wait. Waits usually share a
 * timeout, so a new one rarely wakes the timer; when a deadline passes, its
 * wait's `onTimeout` runs once.
 */
import type { Clock } from "effect"
import { TimerLoop } from "./TimerLoop.ts"

/** A wait with a deadline. */
export interface PendingWait {
  readonly deadline: number
  readonly onTimeout: () => void
}

/** Pending waits by deadline; fork `timer.run` in the owner's scope. */
export class Deadlines {
  readonly timer: TimerLoop
  private readonly pending = new Set<PendingWait>()

  constructor(clock: Clock.Clock) {
    this.timer = new TimerLoop(clock, (now) => this.expire(now))
  }

  /** Starts a wait of `timeoutMs`; `onTimeout` runs if it is still pending by then. */
  add(timeoutMs: number, onTimeout: () => void): PendingWait {
    const request = { deadline: this.timer.now() + timeoutMs, onTimeout }
    this.pending.add(request)
    this.timer.arm(request.deadline)
    return request
  }

  /** Ends a wait before its deadline (answered, or the waiter gave up). */
  remove(request: PendingWait): void {
    this.pending.delete(request)
  }

  private expire(now: number): number | undefined {
    let next: number | undefined
    for (const request of this.pending) {
      if (request.deadline <= now) {
        this.pending.delete(request)
        request.onTimeout()
      } else if (next === undefined || request.deadline < next) {
        next = request.deadline
      }
    }
    return next
  }
}
