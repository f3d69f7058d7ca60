/**
 * A KV bucket over JetStream KV (`@nats-io/kv`). Deleted and purged keys read
 * as absent; a watch skips delete markers among the current values and then
 * reports every change (a purge as a delete); a compare-and-set that finds
 * another revision fails with `KvConflictError` (JetStream's
 * wrong-last-sequence codes). Writes are
 * JetStream publishes to the key's subject over the adapter's replies (what
 * nats.js's bucket does, without its request path); reads, deletes, key
 * listings and watches are nats.js's; a purge removes every message of the
 * key's subject from the bucket's stream, leaving no marker. Every bus
 * failure goes through the adapter's `classify`, which recognizes a bucket
 * that is gone.
 */
import type { JetStreamManager } from "@nats-io/jetstream"
import type { KV, KvEntry as NatsKvEntry } from "@nats-io/kv"
import { Effect, Option, Stream } from "effect"
import type { KvEntry, KvStore } from "../Bus.ts"
import { BusError, KvConflictError } from "../BusError.ts"
import { invalidKey, isValidKey, isValidKeyFilter } from "./kvKeys.ts"
import { ApiCode, apiCodeOf, toBusError } from "./natsErrors.ts"
import type { NatsReplies } from "./natsReplies.ts"

const toEntry = (entry: NatsKvEntry): KvEntry => ({
  key: entry.key,
  value: entry.value,
  revision: entry.revision,
  operation: entry.operation === "PUT" ? "PUT" : "DEL"
})

const isConflict = (cause: unknown): boolean => {
  const code = apiCodeOf(cause)
  return code === ApiCode.WrongLastSequence || code === ApiCode.WrongLastSequenceUnknown
}

/** The JetStream stream that holds a KV bucket (nats.js's naming, a server convention). */
export const kvStreamName = (bucket: string): string => `KV_${bucket}`

/**
 * Wraps an open nats.js bucket; its writes are JetStream publishes over `replies`, a purge a purge of
 * the key's subject through `jsm`. Every `BusError` passes through `classify` (which may tell that
 * the bucket is gone) before the caller sees it.
 */
export const makeNatsKvStore = (
  kv: KV,
  bucket: string,
  replies: NatsReplies,
  jsm: JetStreamManager,
  classify: (error: BusError) => Effect.Effect<BusError>
): KvStore => {
  const store = makeStore(kv, bucket, replies, jsm)
  const checked = <A, E>(effect: Effect.Effect<A, E | BusError>): Effect.Effect<A, E | BusError> =>
    Effect.catchIf(effect, isBusError, (error) => Effect.flatMap(classify(error), Effect.fail))
  return {
    bucket,
    get: (key) => checked(store.get(key)),
    put: (key, value) => checked(store.put(key, value)),
    create: (key, value) => checked(store.create(key, value)),
    update: (key, value, revision) => checked(store.update(key, value, revision)),
    delete: (key) => checked(store.delete(key)),
    purge: (key) => checked(store.purge(key)),
    keys: checked(store.keys),
    watch: (options) =>
      store.watch(options).pipe(Stream.catchIf(isBusError, (error) => Stream.fromEffect(Effect.flatMap(classify(error), Effect.fail))))
  }
}

const isBusError = (error: unknown): error is BusError => error instanceof BusError

const makeStore = (kv: KV, bucket: string, replies: NatsReplies, jsm: JetStreamManager): KvStore => {
  // JetStream's own subject for a key's writes (a server name, not a Switchyard subject; no mirror, no domain).
  const keySubject = (key: string) => `$KV.${bucket}.${key}`
  const write = (key: string, value: Uint8Array, expectedLastSubjectSequence?: number) =>
    replies
      .publish(keySubject(key), value, expectedLastSubjectSequence === undefined ? undefined : { expectedLastSubjectSequence })
      .pipe(Effect.map((ack) => ack.seq))
  // As nats.js does: a create over a key whose last entry is a delete marker replaces the marker.
  const create = (key: string, value: Uint8Array) =>
    write(key, value, 0).pipe(
      Effect.catchIf(isConflict, (conflict) =>
        Effect.tryPromise({ try: () => kv.get(key), catch: (cause) => cause }).pipe(
          Effect.flatMap((entry) =>
            entry !== null && entry.operation !== "PUT" ? write(key, value, entry.revision) : Effect.fail(conflict)
          )
        )
      )
    )

  const call = <A>(operation: string, key: string, run: () => Promise<A>): Effect.Effect<A, BusError> =>
    isValidKey(key)
      ? Effect.tryPromise({ try: run, catch: toBusError(`kv.${operation}`, `${bucket}/${key}`) })
      : Effect.fail(invalidKey(bucket, `kv.${operation}`, key))

  const compareAndSet = (operation: string, key: string, expectedRevision: number, run: Effect.Effect<number, unknown>) =>
    isValidKey(key)
      ? run.pipe(
          Effect.mapError((cause): BusError | KvConflictError =>
            isConflict(cause)
              ? new KvConflictError({ bucket, key, expectedRevision })
              : toBusError(`kv.${operation}`, `${bucket}/${key}`)(cause)
          )
        )
      : Effect.fail(invalidKey(bucket, `kv.${operation}`, key))

  return {
    bucket,
    get: (key) =>
      call("get", key, () => kv.get(key)).pipe(
        Effect.map((entry) => (entry !== null && entry.operation === "PUT" ? Option.some(toEntry(entry)) : Option.none()))
      ),
    put: (key, value) =>
      isValidKey(key)
        ? write(key, value).pipe(Effect.mapError(toBusError("kv.put", `${bucket}/${key}`)))
        : Effect.fail(invalidKey(bucket, "kv.put", key)),
    create: (key, value) => compareAndSet("create", key, 0, create(key, value)),
    update: (key, value, revision) => compareAndSet("update", key, revision, write(key, value, revision)),
    delete: (key) => call("delete", key, () => kv.delete(key)),
    // nats.js's own purge leaves a marker; purging the key's subject with nothing kept leaves none.
    purge: (key) =>
      call("purge", key, () => jsm.streams.purge(kvStreamName(bucket), { filter: keySubject(key), keep: 0 })).pipe(Effect.asVoid),
    keys: Effect.tryPromise({ try: () => kv.keys(), catch: toBusError("kv.keys", bucket) }).pipe(
      Effect.flatMap((iterator) => Stream.runCollect(Stream.fromAsyncIterable(iterator, toBusError("kv.keys", bucket)))),
      Effect.map((keys) => [...new Set(keys)])
    ),
    watch: (options) => {
      const key = options?.key ?? ">"
      if (!isValidKeyFilter(key)) return Stream.fail(invalidKey(bucket, "kv.watch", key))
      return Stream.unwrap(
        Effect.acquireRelease(
          Effect.tryPromise({ try: () => kv.watch({ key }), catch: toBusError("kv.watch", `${bucket}/${key}`) }),
          (iterator) => Effect.sync(() => iterator.stop())
        ).pipe(
          Effect.map((iterator) => {
            // nats.js flags the last current value as an update already (and every entry
            // when there were no current values), so the first flagged entry still counts
            // as current: a delete marker there is at worst the delete of a key never seen.
            let current = true
            return Stream.fromAsyncIterable(iterator, toBusError("kv.watch", `${bucket}/${key}`)).pipe(
              Stream.filter((entry) => {
                const wasCurrent = current
                if (entry.isUpdate) current = false
                return !wasCurrent || entry.operation === "PUT"
              }),
              Stream.map(toEntry)
            )
          })
        )
      )
    }
  }
}
