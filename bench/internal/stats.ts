/**
 * Timing for the dispatch benchmark: sequential latency samples (one
 * operation at a time, after a warm-up) and throughput with a fixed number
 * of operations in flight, for Promise-returning operations (raw nats.js)
 * and for Effects (Switchyard), so neither side pays for the other's
 * calling convention. Times come from `performance.now()`.
 */
import { Effect } from "effect"

/** Latency percentiles of a set of samples, in milliseconds. */
export interface Latency {
  readonly samples: number
  readonly p50: number
  readonly p99: number
  readonly mean: number
}

/** One sequential measurement. */
export interface Sequential {
  readonly latency: Latency
  /** Operations per second when run back to back. */
  readonly opsPerSec: number
}

/** One measurement with many operations in flight. */
export interface Concurrent {
  readonly total: number
  readonly inFlight: number
  readonly seconds: number
  readonly opsPerSec: number
  /** Latency of each operation under that load. */
  readonly latency: Latency
}

/**
 * How many operations to run in a measurement and before it. A measurement
 * also stops taking samples once `budgetSeconds` have passed (the warm-up
 * once a quarter of it has), so a slow system is measured on fewer samples
 * instead of running for minutes; the sample count is reported.
 */
export interface SequentialPlan {
  readonly warmup: number
  readonly samples: number
  readonly budgetSeconds: number
}

/** How many operations to run, how many at once, and how many before; bounded in time like `SequentialPlan`. */
export interface ConcurrentPlan {
  readonly warmup: number
  readonly total: number
  readonly inFlight: number
  readonly budgetSeconds: number
}

const percentile = (sorted: Float64Array, p: number): number =>
  sorted.length === 0 ? Number.NaN : sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(p * sorted.length) - 1))]!

/** Summarises latency samples (milliseconds). */
export const summarize = (samples: Float64Array): Latency => {
  const sorted = Float64Array.from(samples).sort()
  let sum = 0
  for (const value of sorted) sum += value
  return { samples: sorted.length, p50: percentile(sorted, 0.5), p99: percentile(sorted, 0.99), mean: sum / Math.max(1, sorted.length) }
}

const deadline = (seconds: number) => performance.now() + seconds * 1000

/** Runs `once` back to back: up to `warmup` times untimed, then up to `samples` timed ones. */
export const sequentialPromise = async (plan: SequentialPlan, once: () => Promise<unknown>): Promise<Sequential> => {
  const warmEnd = deadline(plan.budgetSeconds / 4)
  for (let i = 0; i < plan.warmup && performance.now() < warmEnd; i++) await once()
  const samples = new Float64Array(plan.samples)
  const started = performance.now()
  const end = deadline(plan.budgetSeconds)
  let taken = 0
  while (taken < plan.samples && performance.now() < end) {
    const t0 = performance.now()
    await once()
    samples[taken++] = performance.now() - t0
  }
  const seconds = (performance.now() - started) / 1000
  return { latency: summarize(samples.subarray(0, taken)), opsPerSec: taken / seconds }
}

/** Runs up to `total` operations with `inFlight` of them outstanding at any time (after a warm-up the same way). */
export const concurrentPromise = async (plan: ConcurrentPlan, once: () => Promise<unknown>): Promise<Concurrent> => {
  const window = async (count: number, seconds: number, samples: Float64Array | undefined) => {
    const end = deadline(seconds)
    let started = 0
    const worker = async () => {
      while (started < count && performance.now() < end) {
        const i = started++
        const t0 = performance.now()
        await once()
        if (samples !== undefined) samples[i] = performance.now() - t0
      }
    }
    await Promise.all(Array.from({ length: Math.min(plan.inFlight, count) }, worker))
    return started
  }
  await window(plan.warmup, plan.budgetSeconds / 4, undefined)
  const samples = new Float64Array(plan.total)
  const t0 = performance.now()
  const total = await window(plan.total, plan.budgetSeconds, samples)
  const seconds = (performance.now() - t0) / 1000
  return { total, inFlight: plan.inFlight, seconds, opsPerSec: total / seconds, latency: summarize(samples.subarray(0, total)) }
}

const now = Effect.sync(() => performance.now())

/** `sequentialPromise` for an Effect. */
export const sequentialEffect = <E, R>(plan: SequentialPlan, once: Effect.Effect<unknown, E, R>): Effect.Effect<Sequential, E, R> =>
  Effect.gen(function* () {
    const warmEnd = deadline(plan.budgetSeconds / 4)
    for (let i = 0; i < plan.warmup && (yield* now) < warmEnd; i++) yield* once
    const samples = new Float64Array(plan.samples)
    const started = yield* now
    const end = deadline(plan.budgetSeconds)
    let taken = 0
    while (taken < plan.samples && (yield* now) < end) {
      const t0 = yield* now
      yield* once
      samples[taken++] = (yield* now) - t0
    }
    const seconds = ((yield* now) - started) / 1000
    return { latency: summarize(samples.subarray(0, taken)), opsPerSec: taken / seconds }
  })

/** `concurrentPromise` for an Effect. */
export const concurrentEffect = <E, R>(plan: ConcurrentPlan, once: Effect.Effect<unknown, E, R>): Effect.Effect<Concurrent, E, R> =>
  Effect.gen(function* () {
    const window = (count: number, seconds: number, samples: Float64Array | undefined) =>
      Effect.gen(function* () {
        const end = deadline(seconds)
        let started = 0
        const worker = Effect.gen(function* () {
          while (started < count && (yield* now) < end) {
            const i = started++
            const t0 = yield* now
            yield* once
            if (samples !== undefined) samples[i] = (yield* now) - t0
          }
        })
        yield* Effect.all(
          Array.from({ length: Math.min(plan.inFlight, count) }, () => worker),
          { concurrency: "unbounded", discard: true }
        )
        return started
      })
    yield* window(plan.warmup, plan.budgetSeconds / 4, undefined)
    const samples = new Float64Array(plan.total)
    const t0 = yield* now
    const total = yield* window(plan.total, plan.budgetSeconds, samples)
    const seconds = ((yield* now) - t0) / 1000
    return { total, inFlight: plan.inFlight, seconds, opsPerSec: total / seconds, latency: summarize(samples.subarray(0, total)) }
  })

/** Times one effect; returns its value and the seconds it took. */
export const timed = <A, E, R>(self: Effect.Effect<A, E, R>): Effect.Effect<{ readonly value: A; readonly seconds: number }, E, R> =>
  Effect.gen(function* () {
    const t0 = yield* now
    const value = yield* self
    return { value, seconds: ((yield* now) - t0) / 1000 }
  })
