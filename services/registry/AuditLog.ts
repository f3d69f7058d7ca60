/**
 * The audit trail: every decision the registry takes (a stage accepted,
 * rejected with its reason, replaced by a newer version, deregistered, a pool
 * going offline or coming back) and every plugin an executor loads or refuses
 * becomes one structured `AuditEntry`, published durably on
 * `audit.<service>` (`audit.registry`, `audit.executor`) into the audit
 * stream (which this service ensures at startup) and logged at Debug. Auditing never
 * fails the decision it records: the decision is already taken, so a failed
 * publish is logged and dropped.
 */
import { Clock, Context, Effect, Layer, Schema } from "effect"
import { StageRejection } from "@switchyard/schemas/Registry"
import { Bus } from "@switchyard/bus/Bus"
import { auditStream } from "@switchyard/bus/Streams"
import type { BusError } from "@switchyard/bus/BusError"
import { encode } from "@switchyard/schemas/Codec"
import { Subjects } from "@switchyard/schemas/Subjects"

/** The `switchyard-type` header value of audit entries. */
export const AuditEntryType = "AuditEntry/1"

/** What happened. */
export const AuditEvent = Schema.Literals([
  "accepted",
  "rejected",
  "replaced",
  "deregistered",
  "pool-offline",
  "pool-online",
  "plugin-loaded",
  "plugin-refused",
  "plugin-unloaded"
])
export type AuditEvent = typeof AuditEvent.Type

/** Who held a stage type before a replacement. */
export class AuditPrevious extends Schema.Class<AuditPrevious>("switchyard/AuditPrevious")({
  plugin: Schema.String,
  version: Schema.String,
  pool: Schema.String
}) {}

/**
 * One audit record, JSON on `audit.<service>`:
 * `{ version: 1, service, at, event, stage?, plugin?, stageVersion?, pool?,
 * executorId?, previous?, rejection?, types?, lastSeen?, source?, location?, reason? }`.
 */
export class AuditEntry extends Schema.Class<AuditEntry>("switchyard/AuditEntry")({
  version: Schema.Literal(1),
  /** The service that decided (`registry`, `executor`). */
  service: Schema.String,
  /** Epoch milliseconds of the decision. */
  at: Schema.Number,
  event: AuditEvent,
  /** The stage type decided on (stage events). */
  stage: Schema.optionalKey(Schema.String),
  plugin: Schema.optionalKey(Schema.String),
  /** The stage type's version in the registration. */
  stageVersion: Schema.optionalKey(Schema.String),
  pool: Schema.optionalKey(Schema.String),
  /** The executor replica that sent the registration. */
  executorId: Schema.optionalKey(Schema.String),
  /** The registration this one replaced or refreshed. */
  previous: Schema.optionalKey(AuditPrevious),
  /** Why a stage was rejected. */
  rejection: Schema.optionalKey(StageRejection),
  /** The stage types a pool serves (pool events). */
  types: Schema.optionalKey(Schema.Array(Schema.String)),
  /** Epoch milliseconds of the pool's last heartbeat (pool events). */
  lastSeen: Schema.optionalKey(Schema.Number),
  /** Where a plugin was found: `path` (a plugin folder) or `npm` (an installed package) (plugin events). */
  source: Schema.optionalKey(Schema.Literals(["path", "npm"])),
  /** The plugin folder or package folder (plugin events). */
  location: Schema.optionalKey(Schema.String),
  /** Why a plugin was refused or unloaded: every problem, one per line, each naming file, line, field and what was expected. */
  reason: Schema.optionalKey(Schema.String)
}) {}

/** The fields of an entry the caller supplies; `version`, `service` and `at` are filled in. */
export type AuditRecord = Omit<AuditEntry, "version" | "service" | "at">

/** The audit log service. */
export class AuditLog extends Context.Service<
  AuditLog,
  {
    /** Publishes and logs one entry; never fails. */
    readonly record: (entry: AuditRecord) => Effect.Effect<void>
  }
>()("switchyard/registry/AuditLog") {
  /** Ensures the audit stream, then records as `service` (default `registry`). */
  static readonly layerFor = (service: string): Layer.Layer<AuditLog, BusError, Bus> =>
    Layer.effect(
      AuditLog,
      Effect.gen(function* () {
        const bus = yield* Bus
        const names = yield* Subjects
        yield* bus.ensureStream(auditStream(names))
        const subject = names.audit(service)

        const record = Effect.fn("AuditLog.record")(function* (fields: AuditRecord) {
          const at = yield* Clock.currentTimeMillis
          const entry = new AuditEntry({ ...fields, version: 1, service, at })
          const encoded = Schema.encodeSync(AuditEntry)(entry)
          // At Debug: the audit stream keeps every entry; the service's default Info log stays readable.
          yield* Effect.logDebug(
            `audit: ${entry.event} ${entry.stage ?? entry.plugin ?? entry.location ?? entry.pool ?? ""}`.trimEnd()
          ).pipe(Effect.annotateLogs({ audit: encoded }))
          const { data, headers } = encode(AuditEntry, AuditEntryType, entry)
          yield* bus
            .enqueue(subject, data, { headers })
            .pipe(
              Effect.catch((error) =>
                Effect.logWarning("audit entry not published").pipe(Effect.annotateLogs({ audit: encoded, error: error.message }))
              )
            )
        })

        return AuditLog.of({ record })
      })
    )

  /** The registry's audit log. */
  static readonly layer: Layer.Layer<AuditLog, BusError, Bus> = AuditLog.layerFor("registry")
}
