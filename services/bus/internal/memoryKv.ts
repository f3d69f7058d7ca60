/**
 * A key-value bucket of the in-memory bus: the latest entry per key (a
 * delete leaves a `DEL` marker, as in JetStream), one revision counter per
 * bucket, compare-and-set on a key's last revision, and watchers that get
 * the current values and then every change.
 */
import { Cause, Effect, Option, Queue, Stream } from "effect"
import type { KvEntry, KvStore } from "../Bus.ts"
import { type BusError, KvConflictError } from "../BusError.ts"
import { invalidKey, isValidKey, isValidKeyFilter } from "./kvKeys.ts"
import { compileSubject, type SubjectMatcher } from "./subjectMatch.ts"

interface Watcher {
  readonly matches: SubjectMatcher
  readonly queue: Queue.Queue<KvEntry, Cause.Done>
}

const empty = new Uint8Array(0)

/** Builds the in-memory store of one bucket. */
export const makeMemoryKvStore = (bucket: string): KvStore => {
  const entries = new Map<string, KvEntry>()
  const watchers = new Set<Watcher>()
  let revision = 0

  const checked = <A, E>(operation: string, key: string, body: () => Effect.Effect<A, E>): Effect.Effect<A, E | BusError> =>
    Effect.suspend((): Effect.Effect<A, E | BusError> => (isValidKey(key) ? body() : Effect.fail(invalidKey(bucket, operation, key))))

  const write = (key: string, value: Uint8Array, operation: KvEntry["operation"]): number => {
    const entry: KvEntry = { key, value, revision: ++revision, operation }
    entries.delete(key)
    entries.set(key, entry)
    for (const watcher of watchers) if (watcher.matches(key)) Queue.offerUnsafe(watcher.queue, entry)
    return entry.revision
  }

  const live = (key: string): KvEntry | undefined => {
    const entry = entries.get(key)
    return entry !== undefined && entry.operation === "PUT" ? entry : undefined
  }

  return {
    bucket,
    get: (key) => checked("kv.get", key, () => Effect.succeed(Option.fromUndefinedOr(live(key)))),
    put: (key, value) => checked("kv.put", key, () => Effect.sync(() => write(key, value, "PUT"))),
    create: (key, value) =>
      checked("kv.create", key, () =>
        live(key) === undefined
          ? Effect.sync(() => write(key, value, "PUT"))
          : Effect.fail(new KvConflictError({ bucket, key, expectedRevision: 0 }))
      ),
    update: (key, value, expected) =>
      checked("kv.update", key, () =>
        entries.get(key)?.revision === expected
          ? Effect.sync(() => write(key, value, "PUT"))
          : Effect.fail(new KvConflictError({ bucket, key, expectedRevision: expected }))
      ),
    delete: (key) =>
      checked("kv.delete", key, () =>
        Effect.sync(() => {
          if (live(key) !== undefined) write(key, empty, "DEL")
        })
      ),
    purge: (key) =>
      checked("kv.purge", key, () =>
        Effect.sync(() => {
          entries.delete(key)
        })
      ),
    keys: Effect.sync(() => [...entries.values()].filter((entry) => entry.operation === "PUT").map((entry) => entry.key)),
    watch: (options) => {
      const filter = options?.key ?? ">"
      if (!isValidKeyFilter(filter)) return Stream.fail(invalidKey(bucket, "kv.watch", filter))
      const matches = compileSubject(filter)
      return Stream.unwrap(
        Effect.gen(function* () {
          const queue = yield* Queue.unbounded<KvEntry, Cause.Done>()
          // The snapshot and the registration happen in one synchronous step, so no change falls between them.
          const current = yield* Effect.acquireRelease(
            Effect.sync(() => {
              watchers.add({ matches, queue })
              return [...entries.values()]
                .filter((entry) => entry.operation === "PUT" && matches(entry.key))
                .sort((a, b) => a.revision - b.revision)
            }),
            () =>
              Effect.sync(() => {
                for (const watcher of watchers) if (watcher.queue === queue) watchers.delete(watcher)
                Queue.endUnsafe(queue)
              })
          )
          return Stream.concat(Stream.fromArray(current), Stream.fromQueue(queue))
        })
      )
    }
  }
}
