/**
 * Polling with a labelled deadline, for tests that wait on something to
 * happen elsewhere (a message to arrive, a redelivery, a state change). The
 * check runs until it succeeds with anything but `false`; when the deadline
 * passes, the test fails with an error naming what it waited for and the last
 * thing the check saw (its failure, its defect, or that it returned false).
 * Pauses and the deadline use the live clock, so it also works beside a
 * `TestClock` (advance the test clock yourself; this only waits for effects).
 */
import { Cause, Clock, Duration, Effect, Exit, Inspectable, Predicate, Schema } from "effect"

/** A condition did not hold before its deadline. */
export class EventuallyTimeoutError extends Schema.TaggedError<EventuallyTimeoutError>()("EventuallyTimeoutError", {
  label: Schema.String,
  timeoutMs: Schema.Number,
  attempts: Schema.Number,
  /** What the last attempt saw. */
  lastSeen: Schema.String
}) {
  override get message(): string {
    return `${this.label}: not true within ${this.timeoutMs} ms (${this.attempts} attempts); last saw: ${this.lastSeen}`
  }
}

/** Options of `eventually`. */
export interface EventuallyOptions {
  /** @default "5 seconds" */
  readonly timeout?: Duration.Input
  /** Pause between attempts. @default "10 millis" */
  readonly interval?: Duration.Input
}

const liveClock = Clock.Clock.defaultValue()
const live = <A, E, R>(effect: Effect.Effect<A, E, R>) => Effect.provideService(effect, Clock.Clock, liveClock)

/** Describes what a failed attempt saw, briefly (no stack traces). */
export const describeSeen = (cause: Cause.Cause<unknown>): string => {
  const seen = Cause.squash(cause)
  if (Predicate.isString(seen)) return seen
  if (seen instanceof Error) {
    const tag = Predicate.hasProperty(seen, "_tag") && Predicate.isString(seen._tag) ? seen._tag : seen.name
    return `${tag}: ${seen.message}`
  }
  return Inspectable.toStringUnknown(seen)
}

/**
 * Runs `check` until it succeeds with a value other than `false` and returns
 * that value; fails with `EventuallyTimeoutError` at the deadline. A check
 * may be an Effect (failures and defects count as "not yet") or a function
 * returning a boolean.
 */
export const eventually = <A, E = never, R = never>(
  label: string,
  check: Effect.Effect<A, E, R> | (() => A),
  options: EventuallyOptions = {}
): Effect.Effect<Exclude<A, false>, EventuallyTimeoutError, R> =>
  Effect.gen(function* () {
    const timeoutMs = Duration.toMillis(options.timeout ?? "5 seconds")
    const interval = options.interval ?? "10 millis"
    const attempt: Effect.Effect<A, E, R> = Effect.isEffect(check) ? check : Effect.sync(check)
    const deadline = (yield* live(Clock.currentTimeMillis)) + timeoutMs
    let attempts = 0
    let lastSeen = "nothing (never ran)"
    while (true) {
      attempts++
      const exit = yield* Effect.exit(attempt)
      if (Exit.isSuccess(exit)) {
        if (exit.value !== false) return exit.value as Exclude<A, false>
        lastSeen = "the check returned false"
      } else if (Cause.hasInterruptsOnly(exit.cause)) {
        return yield* Effect.failCause(exit.cause as Cause.Cause<never>)
      } else {
        lastSeen = describeSeen(exit.cause)
      }
      const now = yield* live(Clock.currentTimeMillis)
      if (now >= deadline) {
        return yield* new EventuallyTimeoutError({ label, timeoutMs, attempts, lastSeen })
      }
      yield* live(Effect.sleep(Duration.min(Duration.fromInputUnsafe(interval), Duration.millis(deadline - now))))
    }
  })
