/**
 * One timer fiber driven by the Clock for many deadlines: the owner keeps its
 * deadlines (usually in order, so looking at the head is enough), `tick`
 * handles what is due and says when to look again, and `arm` wakes the fiber
 * early when a nearer deadline appears. Nothing is allocated per deadline.
 */
import { type Clock, Deferred, Duration, Effect, Exit } from "effect"

/** A fiber body that runs `tick` at the deadlines it returns. */
export class TimerLoop {
  private readonly clock: Clock.Clock
  private readonly tick: (now: number) => number | undefined
  private armedAt: number | undefined = undefined
  private wake = Deferred.makeUnsafe<void>()

  /** `tick(now)` handles everything due by `now` and returns the next deadline, if any. */
  constructor(clock: Clock.Clock, tick: (now: number) => number | undefined) {
    this.clock = clock
    this.tick = tick
  }

  /** Current time of the timer's clock. */
  now(): number {
    return this.clock.currentTimeMillisUnsafe()
  }

  /** Makes sure the fiber looks again no later than `at`. */
  arm(at: number): void {
    if (this.armedAt !== undefined && this.armedAt <= at) return
    this.armedAt = at
    Deferred.doneUnsafe(this.wake, Exit.void)
  }

  /** The fiber body; fork it in the owner's scope. */
  get run(): Effect.Effect<never> {
    return Effect.forever(
      Effect.suspend(() => {
        const now = this.clock.currentTimeMillisUnsafe()
        const next = this.tick(now)
        const wake = Deferred.makeUnsafe<void>()
        this.wake = wake
        this.armedAt = next
        return next === undefined
          ? Deferred.await(wake)
          : Effect.raceFirst(this.clock.sleep(Duration.millis(Math.max(0, next - now))), Deferred.await(wake))
      })
    )
  }
}
