/**
 * Timeouts of the in-memory bus's pending requests: one Clock-driven timer
 * fiber (a `TimerLoop`) for all of them, rather than a timer and a race per
 * request. Requests usually share a timeout, so a new one rarely wakes the
 * timer; when a deadline passes, its request's `onTimeout` runs once.
 */
import type { Clock } from "effect"
import { TimerLoop } from "./timerLoop.ts"

/** A request waiting for its reply. */
export interface PendingRequest {
  readonly deadline: number
  readonly onTimeout: () => void
}

/** The pending requests of one bus, by deadline. */
export class RequestDeadlines {
  readonly timer: TimerLoop
  private readonly pending = new Set<PendingRequest>()

  constructor(clock: Clock.Clock) {
    this.timer = new TimerLoop(clock, (now) => this.expire(now))
  }

  /** Starts waiting `timeoutMs` for a reply; `onTimeout` runs if none came by then. */
  add(timeoutMs: number, onTimeout: () => void): PendingRequest {
    const request = { deadline: this.timer.now() + timeoutMs, onTimeout }
    this.pending.add(request)
    this.timer.arm(request.deadline)
    return request
  }

  /** Stops waiting (answered, or the requester gave up). */
  remove(request: PendingRequest): void {
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
