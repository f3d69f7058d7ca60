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

/** How many operations to run in a measurement and before it. */
export interface SequentialPlan {
  readonly warmup: number
  readonly samples: number
}

/** How many operations to run, how many at once, and how many before. */
export interface ConcurrentPlan {
  readonly warmup: number
  readonly total: number
  readonly inFlight: number
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

/** Runs `once` back to back: `warmup` times untimed, then `samples` timed ones. */
export const sequentialPromise = async (plan: SequentialPlan, once: (i: number) => Promise<unknown>): Promise<Sequential> => {
  for (let i = 0; i < plan.warmup; i++) await once(-1 - i)
  const samples = new Float64Array(plan.samples)
  const started = performance.now()
  for (let i = 0; i < plan.samples; i++) {
    const t0 = performance.now()
    await once(i)
    samples[i] = performance.now() - t0
  }
  const seconds = (performance.now() - started) / 1000
  return { latency: summarize(samples), opsPerSec: plan.samples / seconds }
}

/** Runs `total` operations with `inFlight` of them outstanding at any time (after a warm-up the same way). */
export const concurrentPromise = async (plan: ConcurrentPlan, once: (i: number) => Promise<unknown>): Promise<Concurrent> => {
  const window = async (count: number, offset: number, samples: Float64Array | undefined) => {
    let next = 0
    const worker = async () => {
      while (next < count) {
        const i = next++
        const t0 = performance.now()
        await once(offset + i)
        if (samples !== undefined) samples[i] = performance.now() - t0
      }
    }
    await Promise.all(Array.from({ length: Math.min(plan.inFlight, count) }, worker))
  }
  await window(plan.warmup, 1_000_000_000, undefined)
  const samples = new Float64Array(plan.total)
  const started = performance.now()
  await window(plan.total, 0, samples)
  const seconds = (performance.now() - started) / 1000
  return { total: plan.total, inFlight: plan.inFlight, seconds, opsPerSec: plan.total / seconds, latency: summarize(samples) }
}

const now = Effect.sync(() => performance.now())

/** `sequentialPromise` for an Effect. */
export const sequentialEffect = <E, R>(
  plan: SequentialPlan,
  once: (i: number) => Effect.Effect<unknown, E, R>
): Effect.Effect<Sequential, E, R> =>
  Effect.gen(function*() {
    for (let i = 0; i < plan.warmup; i++) yield* once(-1 - i)
    const samples = new Float64Array(plan.samples)
    const started = yield* now
    for (let i = 0; i < plan.samples; i++) {
      const t0 = yield* now
      yield* once(i)
      samples[i] = (yield* now) - t0
    }
    const seconds = ((yield* now) - started) / 1000
    return { latency: summarize(samples), opsPerSec: plan.samples / seconds }
  })

/** `concurrentPromise` for an Effect. */
export const concurrentEffect = <E, R>(
  plan: ConcurrentPlan,
  once: (i: number) => Effect.Effect<unknown, E, R>
): Effect.Effect<Concurrent, E, R> =>
  Effect.gen(function*() {
    const window = (count: number, offset: number, samples: Float64Array | undefined) =>
      Effect.forEach(
        Array.from({ length: count }, (_, i) => i),
        (i) =>
          samples === undefined
            ? once(offset + i)
            : Effect.gen(function*() {
              const t0 = yield* now
              yield* once(offset + i)
              samples[i] = (yield* now) - t0
            }),
        { concurrency: plan.inFlight, discard: true }
      )
    yield* window(plan.warmup, 1_000_000_000, undefined)
    const samples = new Float64Array(plan.total)
    const started = yield* now
    yield* window(plan.total, 0, samples)
    const seconds = ((yield* now) - started) / 1000
    return { total: plan.total, inFlight: plan.inFlight, seconds, opsPerSec: plan.total / seconds, latency: summarize(samples) }
  })

/** Times one effect; returns its value and the seconds it took. */
export const timed = <A, E, R>(self: Effect.Effect<A, E, R>): Effect.Effect<{ readonly value: A; readonly seconds: number }, E, R> =>
  Effect.gen(function*() {
    const t0 = yield* now
    const value = yield* self
    return { value, seconds: ((yield* now) - t0) / 1000 }
  })
