/**
 * The registry's two KV buckets, typed and held in memory: stage
 * registrations (key: the stage type, value: a `RegisteredStage` as JSON)
 * and replica liveness (key: `<pool>.<executorId>`, value: a `ReplicaBeat`).
 * Each replica keeps a decoded copy of both (see `kvIndex.ts`) that answers
 * lookups and listings; writes still go to the bucket, stage writes by
 * compare-and-set against a revision read from the bucket itself, and every
 * successful write or read refreshes the copy at once. A record that no
 * longer decodes is logged once and left out.
 */
import { Effect, Option, Schema, type Scope } from "effect"
import { RegisteredStage } from "@switchyard/schemas/Registry"
import type { KvEntry, KvStore } from "@switchyard/bus/Bus"
import type { BusError, KvConflictError } from "@switchyard/bus/BusError"
import { followBucket } from "./kvIndex.ts"
import { encodeKey } from "./kvKey.ts"

/** When one executor replica of a pool was last heard from. */
export class ReplicaBeat extends Schema.Class<ReplicaBeat>("switchyard/ReplicaBeat")({
  pool: Schema.String,
  executorId: Schema.String,
  /** Epoch milliseconds, by the registry's clock. */
  lastSeen: Schema.Number,
  /** From the last heartbeat; absent when the replica has only registered. */
  slots: Schema.optionalKey(Schema.Int),
  inFlight: Schema.optionalKey(Schema.Int),
  /** The stage types the replica serves; absent when it never said (it is then assumed to serve every type of its pool). */
  types: Schema.optionalKey(Schema.Array(Schema.String))
}) {}

/** A stage record with the KV revision it was read at. */
export interface StoredStage {
  readonly record: RegisteredStage
  readonly revision: number
}

/** The stages bucket: lookups from memory, reads and compare-and-set writes on the bucket. */
export interface StageStore {
  /** The record of a stage type as this replica last saw it. */
  readonly lookup: (type: string) => RegisteredStage | undefined
  /** Every record this replica knows, sorted by type. */
  readonly records: () => ReadonlyArray<RegisteredStage>
  /** Reads a record from the bucket, with the revision to compare-and-set against. */
  readonly read: (type: string) => Effect.Effect<Option.Option<StoredStage>, BusError>
  readonly create: (record: RegisteredStage) => Effect.Effect<number, BusError | KvConflictError>
  readonly update: (record: RegisteredStage, revision: number) => Effect.Effect<number, BusError | KvConflictError>
  /** Deletes the record of a stage type. */
  readonly remove: (type: string) => Effect.Effect<void, BusError>
  /** Replaces the copy in memory with what the bucket holds now (after it was recreated). */
  readonly reload: Effect.Effect<void, BusError>
}

/** The pools bucket: the latest beat of each replica, from memory. */
export interface BeatStore {
  readonly put: (beat: ReplicaBeat) => Effect.Effect<void, BusError>
  /** The latest beat of one replica, as this replica last saw it. */
  readonly get: (replica: { readonly pool: string; readonly executorId: string }) => ReplicaBeat | undefined
  readonly all: () => ReadonlyArray<ReplicaBeat>
  readonly remove: (beat: ReplicaBeat) => Effect.Effect<void, BusError>
  /** Replaces the copy in memory with what the bucket holds now (after it was recreated). */
  readonly reload: Effect.Effect<void, BusError>
}

const textEncoder = new TextEncoder()
const textDecoder = new TextDecoder()

const toBytes = <S extends Schema.Codec<any, any, never, never>>(schema: S, value: S["Type"]): Uint8Array =>
  textEncoder.encode(JSON.stringify(Schema.encodeSync(schema)(value)))

const fromEntry = <S extends Schema.Codec<any, any, never, never>>(schema: S, bucket: string) => {
  const decodeJson = Schema.decodeUnknownEffect(schema)
  return (entry: KvEntry): Effect.Effect<Option.Option<S["Type"]>> =>
    Effect.try({
      try: (): unknown => JSON.parse(textDecoder.decode(entry.value)),
      catch: (cause) => cause
    }).pipe(
      Effect.flatMap(decodeJson),
      Effect.map((value) => Option.some(value as S["Type"])),
      Effect.catch((error) =>
        Effect.logWarning("skipping an unreadable record").pipe(
          Effect.annotateLogs({ bucket, key: entry.key, error: String(error) }),
          Effect.as(Option.none<S["Type"]>())
        )
      )
    )
}

/** The key of a stage type in the stages bucket. */
export const stageKey = (type: string): string => encodeKey(type, { dots: "keep" })

const encodeStage = Schema.encodeSync(RegisteredStage)
const encodedStages = new WeakMap<RegisteredStage, unknown>()

/** A record's wire (JSON) form, computed once per record. */
export const encodedStage = (record: RegisteredStage): unknown => {
  let encoded = encodedStages.get(record)
  if (encoded === undefined) {
    encoded = encodeStage(record)
    encodedStages.set(record, encoded)
  }
  return encoded
}

/** Stage keys of recently looked-up types; cleared when it grows past `keyCacheLimit`. */
const keyCacheLimit = 4096

/** The key of a replica in the pools bucket. */
export const beatKey = (beat: { readonly pool: string; readonly executorId: string }): string =>
  `${encodeKey(beat.pool, { dots: "escape" })}.${encodeKey(beat.executorId, { dots: "escape" })}`

const byType = (a: RegisteredStage, b: RegisteredStage): number =>
  a.metadata.type < b.metadata.type ? -1 : a.metadata.type > b.metadata.type ? 1 : 0

/** Loads the stages bucket into memory and keeps it current while the scope lives. */
export const makeStageStore = (kv: KvStore): Effect.Effect<StageStore, BusError, Scope.Scope> =>
  Effect.gen(function* () {
    const decode = fromEntry(RegisteredStage, kv.bucket)
    const index = yield* followBucket(kv, { decode, order: byType })
    const keys = new Map<string, string>()
    const keyOf = (type: string): string => {
      let key = keys.get(type)
      if (key === undefined) {
        if (keys.size >= keyCacheLimit) keys.clear()
        key = stageKey(type)
        keys.set(type, key)
      }
      return key
    }
    return {
      lookup: (type) => index.get(keyOf(type)),
      records: index.values,
      read: (type) => {
        const key = stageKey(type)
        return kv.get(key).pipe(
          Effect.flatMap(
            Option.match({
              onNone: () => Effect.succeed(Option.none<StoredStage>()),
              onSome: (entry) =>
                decode(entry).pipe(
                  Effect.map(
                    Option.map((record): StoredStage => {
                      index.record(key, entry.revision, record)
                      return { record, revision: entry.revision }
                    })
                  )
                )
            })
          )
        )
      },
      create: (record) => {
        const key = stageKey(record.metadata.type)
        return kv.create(key, textEncoder.encode(JSON.stringify(encodedStage(record)))).pipe(
          Effect.map((revision) => {
            index.record(key, revision, record)
            return revision
          })
        )
      },
      update: (record, revision) => {
        const key = stageKey(record.metadata.type)
        return kv.update(key, textEncoder.encode(JSON.stringify(encodedStage(record))), revision).pipe(
          Effect.map((next) => {
            index.record(key, next, record)
            return next
          })
        )
      },
      remove: (type) => {
        const key = stageKey(type)
        return kv.delete(key).pipe(Effect.map(() => index.forget(key)))
      },
      reload: index.reload
    }
  })

/** Loads the pools bucket into memory and keeps it current while the scope lives. */
export const makeBeatStore = (kv: KvStore): Effect.Effect<BeatStore, BusError, Scope.Scope> =>
  Effect.gen(function* () {
    const index = yield* followBucket(kv, { decode: fromEntry(ReplicaBeat, kv.bucket) })
    return {
      put: (beat) => {
        const key = beatKey(beat)
        return kv.put(key, toBytes(ReplicaBeat, beat)).pipe(Effect.map((revision) => index.record(key, revision, beat)))
      },
      get: (replica) => index.get(beatKey(replica)),
      all: index.values,
      remove: (beat) => {
        const key = beatKey(beat)
        return kv.delete(key).pipe(Effect.map(() => index.forget(key)))
      },
      reload: index.reload
    }
  })
