/**
 * An in-memory copy of a KV bucket, decoded: loaded when it is made, then
 * kept current by following the bucket's watch in a background fiber, so
 * reads never touch the bus. Each key holds the value seen at the highest
 * revision so far; older news (a watch event behind a write this process
 * already recorded) is ignored, so local writes, reads and the watch can
 * feed it in any order. A stored value is decoded once, when its revision
 * first enters the index. A bucket that was recreated starts its revisions
 * over and its old watch follows nothing: `reload` replaces the whole copy
 * with what the bucket holds now and follows it afresh.
 */
import { Cause, Effect, FiberHandle, Option, Schedule, type Scope, Stream } from "effect"
import type { KvEntry, KvStore } from "@switchyard/bus/Bus"
import type { BusError } from "@switchyard/bus/BusError"

/** A bucket's decoded values, as last seen. */
export interface KvIndex<A> {
  /** The value at `key`; undefined when absent, deleted or unreadable. */
  readonly get: (key: string) => A | undefined
  /** Every value, in the index's order; the same array until something changes. */
  readonly values: () => ReadonlyArray<A>
  /** Records what `key` held at `revision` (undefined: nothing); ignored when the index has newer news. */
  readonly record: (key: string, revision: number, value: A | undefined) => void
  /** Marks `key` deleted at the revision the index holds (a delete does not report its own revision). */
  readonly forget: (key: string) => void
  /** Replaces the copy with the bucket's current values and follows the bucket from there. */
  readonly reload: Effect.Effect<void, BusError>
}

interface Slot<A> {
  readonly revision: number
  readonly value: A | undefined
}

/** Options of `followBucket`. */
export interface FollowOptions<A> {
  /** Turns a stored entry into a value; `None` for one that cannot be read (already logged). */
  readonly decode: (entry: KvEntry) => Effect.Effect<Option.Option<A>>
  /** The order of `values()`; insertion order when absent. */
  readonly order?: (a: A, b: A) => number
}

/**
 * Loads every value of the bucket, then follows its watch for as long as the
 * scope lives (restarting it after a failure). Writes made after the load
 * appear once the watch delivers them, or at once when recorded by the caller.
 */
export const followBucket = <A>(kv: KvStore, options: FollowOptions<A>): Effect.Effect<KvIndex<A>, BusError, Scope.Scope> =>
  Effect.gen(function* () {
    const slots = new Map<string, Slot<A>>()
    let ordered: ReadonlyArray<A> | undefined

    const revisionOf = (key: string): number => slots.get(key)?.revision ?? 0

    const record = (key: string, revision: number, value: A | undefined): void => {
      if (revision <= revisionOf(key)) return
      slots.set(key, { revision, value })
      ordered = undefined
    }

    const values = (): ReadonlyArray<A> => {
      if (ordered !== undefined) return ordered
      const live: Array<A> = []
      for (const slot of slots.values()) if (slot.value !== undefined) live.push(slot.value)
      if (options.order !== undefined) live.sort(options.order)
      ordered = live
      return live
    }

    const forget = (key: string): void => {
      const slot = slots.get(key)
      if (slot === undefined || slot.value === undefined) return
      slots.set(key, { revision: slot.revision, value: undefined })
      ordered = undefined
    }

    // Decoding is skipped for anything the index already holds at that revision
    // (the watch starts by replaying every current value).
    const apply = (entry: KvEntry): Effect.Effect<void> => {
      if (entry.revision <= revisionOf(entry.key)) return Effect.void
      if (entry.operation === "DEL") return Effect.sync(() => record(entry.key, entry.revision, undefined))
      return options.decode(entry).pipe(Effect.map((value) => record(entry.key, entry.revision, Option.getOrUndefined(value))))
    }

    /** Every current value, decoded, with its revision. */
    const load = Effect.gen(function* () {
      const loaded = new Map<string, Slot<A>>()
      const keys = yield* kv.keys
      yield* Effect.forEach(
        keys,
        (key) =>
          kv.get(key).pipe(
            Effect.flatMap(
              Option.match({
                onNone: () => Effect.void,
                onSome: (entry) =>
                  entry.operation === "DEL"
                    ? Effect.void
                    : options.decode(entry).pipe(
                        Effect.map((value) => {
                          loaded.set(entry.key, { revision: entry.revision, value: Option.getOrUndefined(value) })
                        })
                      )
              })
            )
          ),
        { concurrency: 16, discard: true }
      )
      return loaded
    })

    // The watch replays the current values first, so nothing written between
    // the load and the watch's start is missed.
    const follow = kv.watch().pipe(
      Stream.runForEach(apply),
      Effect.catchCause((cause) =>
        Cause.hasInterruptsOnly(cause)
          ? Effect.failCause(cause)
          : Effect.logWarning("stopped following a bucket; following it again").pipe(
              Effect.annotateLogs({ bucket: kv.bucket, cause: Cause.pretty(cause) })
            )
      ),
      Effect.repeat(Schedule.spaced("1 second"))
    )
    const watcher = yield* FiberHandle.make<unknown, unknown>()

    const reload = Effect.gen(function* () {
      const loaded = yield* load
      // Swapped in one step: readers see the old copy or the new one, never a mix.
      slots.clear()
      for (const [key, slot] of loaded) slots.set(key, slot)
      ordered = undefined
      yield* FiberHandle.run(watcher, follow)
    })

    yield* reload

    return { get: (key) => slots.get(key)?.value, values, record, forget, reload }
  })
