/**
 * Sequential latency of two operations measured in alternating rounds, for
 * comparisons whose ratio is the point (a runtime against its baseline): a
 * change in machine load during the run then hits both sides alike instead
 * of whichever happened to be measured at the time.
 */
import { Effect } from "effect"
import { type Sequential, summarize } from "./stats.ts"

/** How many rounds, samples per side per round, and untimed operations per side first. */
export interface InterleavePlan {
  readonly warmup: number
  readonly rounds: number
  readonly perRound: number
}

const now = Effect.sync(() => performance.now())

/** Runs `a` and `b` one at a time in alternating rounds; returns the sequential figures of each. */
export const interleavedSequential = <E, R>(
  plan: InterleavePlan,
  a: Effect.Effect<unknown, E, R>,
  b: Effect.Effect<unknown, E, R>
): Effect.Effect<readonly [Sequential, Sequential], E, R> =>
  Effect.gen(function* () {
    for (let i = 0; i < plan.warmup; i++) {
      yield* a
      yield* b
    }
    const sides = [a, b].map((once) => ({ once, samples: new Float64Array(plan.rounds * plan.perRound), taken: 0, ms: 0 }))
    for (let round = 0; round < plan.rounds; round++) {
      for (const side of sides) {
        const started = yield* now
        for (let i = 0; i < plan.perRound; i++) {
          const t0 = yield* now
          yield* side.once
          side.samples[side.taken++] = (yield* now) - t0
        }
        side.ms += (yield* now) - started
      }
    }
    const [first, second] = sides.map((side) => ({ latency: summarize(side.samples), opsPerSec: side.taken / (side.ms / 1000) }))
    return [first!, second!] as const
  })
