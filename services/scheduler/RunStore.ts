/**
 * Run state in the run-state KV bucket: one key per run holding its record as
 * JSON. A record is decoded once, when it is read, and the scheduler works on
 * the decoded record; `encodeRunRecord` gives the JSON it is saved as. Writes are compare-and-set on the revision the scheduler last saw, so
 * two writers can never silently overwrite each other. `scan` reads every
 * record as stored, for whatever must see all of it (garbage collection),
 * including fields this version does not know and records it cannot decode.
 */
import { Context, Effect, Layer, Option, Result, Schema, Stream } from "effect"
import { Bus } from "@switchyard/bus/Bus"
import type { BusError, KvConflictError } from "@switchyard/bus/BusError"
import { Subjects } from "@switchyard/schemas/Subjects"
import { RunRecord } from "@switchyard/schemas/RunRecord"

/** A stored run, decoded, and the revision it was read at. */
export interface StoredRun {
  readonly doc: RunRecord
  readonly revision: number
}

/** A record of the runs bucket as `scan` reads it. */
export interface ScannedRun {
  readonly runId: string
  readonly revision: number
  /** The record's JSON as stored, parsed, with every field (also those this version does not know); undefined when it is not JSON. */
  readonly json: unknown
  /** The record decoded, or why it does not decode as a run record. */
  readonly doc: Result.Result<RunRecord, string>
}

const validKey = /^[-/_=.a-zA-Z0-9]+$/
const textEncoder = new TextEncoder()
const textDecoder = new TextDecoder()
const decodeRecord = Schema.decodeUnknownEffect(Schema.fromJsonString(RunRecord))

/**
 * A run record as the JSON it is stored as. Nothing in the record's schema transforms a value
 * (its decoded form is its JSON form, read into objects), so serializing the record is encoding
 * it, at a fraction of the cost of running the schema's encoder over it at every save; the
 * RunStore tests check that the two agree.
 */
export const encodeRunRecord = (record: RunRecord): string => JSON.stringify(record)

/** Persistence of run records. */
export class RunStore extends Context.Service<
  RunStore,
  {
    readonly load: (runId: string) => Effect.Effect<Option.Option<StoredRun>, BusError>
    /** Stores a new run (its record as JSON); fails with KvConflictError when the id is taken. */
    readonly create: (runId: string, json: string) => Effect.Effect<number, BusError | KvConflictError>
    /** Compare-and-set save of a record serialized as JSON; returns the new revision. */
    readonly save: (runId: string, json: string, revision: number) => Effect.Effect<number, BusError | KvConflictError>
    /** Every run still running (records that fail to decode are logged and skipped). */
    readonly running: Effect.Effect<ReadonlyArray<StoredRun>, BusError>
    /** Every record in the bucket, read a few at a time (a record deleted meanwhile is left out). */
    readonly scan: Stream.Stream<ScannedRun, BusError>
    /** Removes a run's record and its history, leaving no delete marker; removing a missing one succeeds. */
    readonly delete: (runId: string) => Effect.Effect<void, BusError>
  }
>()("switchyard/scheduler/RunStore") {
  static readonly layer: Layer.Layer<RunStore, BusError, Bus> = Layer.effect(
    RunStore,
    Effect.gen(function* () {
      const bus = yield* Bus
      const names = yield* Subjects
      const kv = yield* bus.kv(names.buckets.runs)

      const read = (key: string) =>
        kv.get(key).pipe(
          Effect.flatMap(
            Option.match({
              onNone: () => Effect.succeedNone,
              onSome: (entry) =>
                entry.operation !== "PUT"
                  ? Effect.succeedNone
                  : decodeRecord(textDecoder.decode(entry.value)).pipe(
                      Effect.map((record) => Option.some({ doc: record, revision: entry.revision })),
                      Effect.catchTag("SchemaError", (error) =>
                        Effect.logWarning(`run record ${key} in bucket ${kv.bucket} is unreadable; skipped`, error.message).pipe(
                          Effect.as(Option.none<StoredRun>())
                        )
                      )
                    )
            })
          )
        )

      const scanOne = (key: string) =>
        kv.get(key).pipe(
          Effect.flatMap(
            Option.match({
              onNone: () => Effect.succeedNone,
              onSome: (entry) =>
                Effect.gen(function* () {
                  const text = textDecoder.decode(entry.value)
                  const json = Result.getOrUndefined(Result.try(() => JSON.parse(text) as unknown))
                  const decoded = yield* Effect.result(decodeRecord(text))
                  const doc = Result.mapError(decoded, (error) => error.message)
                  return Option.some<ScannedRun>({ runId: key, revision: entry.revision, json, doc })
                })
            })
          )
        )

      return RunStore.of({
        // An id that cannot be a key names no run (results and updates can carry anything).
        load: (runId) => (validKey.test(runId) ? read(runId) : Effect.succeedNone),
        create: (runId, json) => kv.create(runId, textEncoder.encode(json)),
        save: (runId, json, revision) => kv.update(runId, textEncoder.encode(json), revision),
        running: Effect.gen(function* () {
          const keys = yield* kv.keys
          const runs = yield* Effect.forEach(keys, read, { concurrency: 16 })
          return runs.flatMap((run) => (Option.isSome(run) && run.value.doc.status === "running" ? [run.value] : []))
        }),
        scan: Stream.fromIterableEffect(kv.keys).pipe(
          Stream.mapEffect(scanOne, { concurrency: 16 }),
          Stream.filterMap((run) => (Option.isSome(run) ? Result.succeed(run.value) : Result.failVoid))
        ),
        delete: (runId) => kv.purge(runId)
      })
    })
  )
}
