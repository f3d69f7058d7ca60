/**
 * Sequential latency of operations measured in alternating rounds, for
 * comparisons whose ratio is the point (a runtime against its baselines): a
 * change in machine load during the run then hits every side alike instead
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

/** Runs the operations one at a time in alternating rounds; returns the sequential figures of each, in order. */
export const interleavedSequential = <E, R>(
  plan: InterleavePlan,
  ...operations: ReadonlyArray<Effect.Effect<unknown, E, R>>
): Effect.Effect<ReadonlyArray<Sequential>, E, R> =>
  Effect.gen(function* () {
    for (let i = 0; i < plan.warmup; i++) {
      for (const once of operations) yield* once
    }
    const sides = operations.map((once) => ({ once, samples: new Float64Array(plan.rounds * plan.perRound), taken: 0, ms: 0 }))
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
    return sides.map((side) => ({ latency: summarize(side.samples), opsPerSec: side.taken / (side.ms / 1000) }))
  })
