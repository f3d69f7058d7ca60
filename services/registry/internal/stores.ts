/**
 * The registry's two KV buckets, typed: stage registrations (key: the stage
 * type, value: a `RegisteredStage` as JSON) and replica liveness (key:
 * `<pool>.<executorId>`, value: a `ReplicaBeat`). A record that no longer
 * decodes is logged and skipped rather than failing every listing.
 */
import { Effect, Option, Schema } from "effect"
import { RegisteredStage } from "../../../schemas/Registry.ts"
import type { KvEntry, KvStore } from "../../bus/Bus.ts"
import type { BusError, KvConflictError } from "../../bus/BusError.ts"
import { encodeKey } from "./kvKey.ts"

/** When one executor replica of a pool was last heard from. */
export class ReplicaBeat extends Schema.Class<ReplicaBeat>("switchyard/ReplicaBeat")({
  pool: Schema.String,
  executorId: Schema.String,
  /** Epoch milliseconds, by the registry's clock. */
  lastSeen: Schema.Number,
  /** From the last heartbeat; absent when the replica has only registered. */
  slots: Schema.optionalKey(Schema.Int),
  inFlight: Schema.optionalKey(Schema.Int)
}) {}

/** A stage record with the KV revision it was read at. */
export interface StoredStage {
  readonly record: RegisteredStage
  readonly revision: number
}

/** Typed access to the stages bucket. */
export interface StageStore {
  readonly get: (type: string) => Effect.Effect<Option.Option<StoredStage>, BusError>
  readonly all: Effect.Effect<ReadonlyArray<StoredStage>, BusError>
  readonly create: (record: RegisteredStage) => Effect.Effect<number, BusError | KvConflictError>
  readonly update: (record: RegisteredStage, revision: number) => Effect.Effect<number, BusError | KvConflictError>
}

/** Typed access to the pools bucket. */
export interface BeatStore {
  readonly put: (beat: ReplicaBeat) => Effect.Effect<void, BusError>
  readonly all: Effect.Effect<ReadonlyArray<ReplicaBeat>, BusError>
  readonly remove: (beat: ReplicaBeat) => Effect.Effect<void, BusError>
}

const textEncoder = new TextEncoder()
const textDecoder = new TextDecoder()

const toBytes = <S extends Schema.Codec<any, any, never, never>>(schema: S, value: S["Type"]): Uint8Array =>
  textEncoder.encode(JSON.stringify(Schema.encodeSync(schema)(value)))

const fromEntry = <S extends Schema.Codec<any, any, never, never>>(schema: S, bucket: string) =>
  Effect.fnUntraced(function*(entry: KvEntry) {
    if (entry.operation === "DEL") return Option.none<S["Type"]>()
    const decoded = yield* Effect.try({
      try: (): unknown => JSON.parse(textDecoder.decode(entry.value)),
      catch: (cause) => cause
    }).pipe(
      Effect.flatMap((json) => Schema.decodeUnknownEffect(schema)(json)),
      Effect.map((value) => Option.some(value as S["Type"])),
      Effect.catch((error) =>
        Effect.logWarning("skipping an unreadable record").pipe(
          Effect.annotateLogs({ bucket, key: entry.key, error: String(error) }),
          Effect.as(Option.none<S["Type"]>())
        )
      )
    )
    return decoded
  })

const readAll = <A>(kv: KvStore, read: (entry: KvEntry) => Effect.Effect<Option.Option<A>>) =>
  kv.keys.pipe(
    Effect.flatMap((keys) =>
      Effect.forEach(
        keys,
        (key) =>
          kv.get(key).pipe(
            Effect.flatMap(Option.match({ onNone: () => Effect.succeed(Option.none<A>()), onSome: read }))
          ),
        { concurrency: 16 }
      )
    ),
    Effect.map((found) => found.flatMap((option) => Option.isSome(option) ? [option.value] : []))
  )

/** The key of a stage type in the stages bucket. */
export const stageKey = (type: string): string => encodeKey(type, { dots: "keep" })

/** The key of a replica in the pools bucket. */
export const beatKey = (beat: { readonly pool: string; readonly executorId: string }): string =>
  `${encodeKey(beat.pool, { dots: "escape" })}.${encodeKey(beat.executorId, { dots: "escape" })}`

/** Typed view of the stages bucket. */
export const makeStageStore = (kv: KvStore): StageStore => {
  const decodeRecord = fromEntry(RegisteredStage, kv.bucket)
  const read = (entry: KvEntry) =>
    decodeRecord(entry).pipe(Effect.map(Option.map((record): StoredStage => ({ record, revision: entry.revision }))))
  return {
    get: (type) =>
      kv.get(stageKey(type)).pipe(
        Effect.flatMap(Option.match({ onNone: () => Effect.succeed(Option.none<StoredStage>()), onSome: read }))
      ),
    all: readAll(kv, read),
    create: (record) => kv.create(stageKey(record.metadata.type), toBytes(RegisteredStage, record)),
    update: (record, revision) => kv.update(stageKey(record.metadata.type), toBytes(RegisteredStage, record), revision)
  }
}

/** Typed view of the pools bucket. */
export const makeBeatStore = (kv: KvStore): BeatStore => ({
  put: (beat) => kv.put(beatKey(beat), toBytes(ReplicaBeat, beat)).pipe(Effect.asVoid),
  all: readAll(kv, fromEntry(ReplicaBeat, kv.bucket)),
  remove: (beat) => kv.delete(beatKey(beat))
})
