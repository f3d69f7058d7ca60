/**
 * Run state in the run-state KV bucket: one key per run holding its record as
 * JSON. Writes are compare-and-set on the revision the scheduler last saw, so
 * two writers can never silently overwrite each other.
 */
import { Context, Effect, Layer, Option, Schema } from "effect"
import { Bus } from "@switchyard/bus/Bus"
import type { BusError, KvConflictError } from "@switchyard/bus/BusError"
import { Subjects } from "@switchyard/schemas/Subjects"
import { RunRecord } from "@switchyard/schemas/RunRecord"
import type { RunDoc } from "./RunActor.ts"

/** A stored run and the revision it was read at. */
export interface StoredRun {
  readonly doc: RunDoc
  readonly revision: number
}

const validKey = /^[-/_=.a-zA-Z0-9]+$/
const textEncoder = new TextEncoder()
const textDecoder = new TextDecoder()
const decodeRecord = Schema.decodeUnknownEffect(Schema.fromJsonString(RunRecord))
const encodeRecord = Schema.encodeSync(RunRecord)

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
                      Effect.map((record) => Option.some({ doc: encodeRecord(record) as RunDoc, revision: entry.revision })),
                      Effect.catchTag("SchemaError", (error) =>
                        Effect.logWarning(`run record ${key} in bucket ${kv.bucket} is unreadable; skipped`, error.message).pipe(
                          Effect.as(Option.none<StoredRun>())
                        )
                      )
                    )
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
        })
      })
    })
  )
}
