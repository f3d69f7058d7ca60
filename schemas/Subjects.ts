/**
 * Every subject, stream, consumer and bucket name Switchyard uses. Nothing
 * else builds a subject by concatenation. A prefix isolates one deployment
 * (or one test) from another on a shared NATS server.
 */
import { Context } from "effect"

/** The names of one Switchyard deployment. */
export interface Names {
  readonly prefix: string
  readonly stageRegister: string
  readonly stageDeregister: string
  readonly stageHeartbeat: string
  readonly stageList: string
  readonly stageResolve: string
  readonly runSubmit: string
  readonly runCancel: string
  readonly runEvent: (runId: string) => string
  readonly runEventAll: string
  readonly taskRun: (pool: string) => string
  readonly taskRunAll: string
  readonly taskResult: (runId: string) => string
  readonly taskResultAll: string
  /** Core: a run was cancelled; every executor replica listens. */
  readonly taskCancel: (runId: string) => string
  readonly taskCancelAll: string
  /** Core: an executor replica confirms it stopped tasks of a cancelled run. */
  readonly taskCancelled: (runId: string) => string
  readonly ledgerUpdate: (runId: string) => string
  readonly ledgerUpdateAll: string
  /** Where poison messages go, per original subject kind (`task.run`, `task.result`, ...). */
  readonly deadLetter: (kind: string) => string
  readonly deadLetterAll: string
  readonly audit: (service: string) => string
  readonly auditAll: string
  /** JetStream streams. */
  readonly streams: {
    readonly tasks: string
    readonly results: string
    readonly deadLetters: string
    readonly audit: string
  }
  /** Durable consumer names. */
  readonly consumers: {
    readonly pool: (pool: string) => string
    readonly scheduler: string
  }
  /** KV buckets, and the blob store's object store bucket. */
  readonly buckets: {
    readonly stages: string
    readonly pools: string
    readonly runs: string
    readonly ledger: string
    /** Per-item results of a stage mapped over a list (`for_each`), keyed by task. */
    readonly items: string
    /** Start markers of tasks run alone after a redelivery, keyed by stream sequence (poison detection). */
    readonly taskStarts: string
    /** The object store bucket of the blob store (values too large for a message). */
    readonly blobs: string
  }
}

const token = (value: string) => value.replace(/[^A-Za-z0-9_-]/g, "_")

/** Builds the names for a prefix (`""` for the default deployment). */
export const makeNames = (prefix = ""): Names => {
  const p = prefix === "" ? "" : `${token(prefix)}.`
  const upper = prefix === "" ? "SWITCHYARD" : `SWITCHYARD_${token(prefix).toUpperCase()}`
  const lower = upper.toLowerCase()
  return {
    prefix,
    stageRegister: `${p}stage.register`,
    stageDeregister: `${p}stage.deregister`,
    stageHeartbeat: `${p}stage.heartbeat`,
    stageList: `${p}stage.list`,
    stageResolve: `${p}stage.resolve`,
    runSubmit: `${p}run.submit`,
    runCancel: `${p}run.cancel`,
    runEvent: (runId) => `${p}run.event.${runId}`,
    runEventAll: `${p}run.event.>`,
    taskRun: (pool) => `${p}task.run.${pool}`,
    taskRunAll: `${p}task.run.>`,
    taskResult: (runId) => `${p}task.result.${runId}`,
    taskResultAll: `${p}task.result.>`,
    taskCancel: (runId) => `${p}task.cancel.${runId}`,
    taskCancelAll: `${p}task.cancel.*`,
    taskCancelled: (runId) => `${p}task.cancelled.${runId}`,
    ledgerUpdate: (runId) => `${p}ledger.update.${runId}`,
    ledgerUpdateAll: `${p}ledger.update.>`,
    deadLetter: (kind) => `${p}dead.${kind}`,
    deadLetterAll: `${p}dead.>`,
    audit: (service) => `${p}audit.${service}`,
    auditAll: `${p}audit.>`,
    streams: {
      tasks: `${upper}_TASKS`,
      results: `${upper}_RESULTS`,
      deadLetters: `${upper}_DEAD`,
      audit: `${upper}_AUDIT`
    },
    consumers: {
      pool: (pool) => `pool-${token(pool)}`,
      scheduler: "scheduler"
    },
    buckets: {
      stages: `${lower}_stages`,
      pools: `${lower}_pools`,
      runs: `${lower}_runs`,
      ledger: `${lower}_ledger`,
      items: `${lower}_items`,
      taskStarts: `${lower}_task_starts`,
      blobs: `${lower}_blobs`
    }
  }
}

/** The names in use; defaults to the unprefixed deployment. */
export const Subjects = Context.Reference<Names>("switchyard/bus/Subjects", {
  defaultValue: () => makeNames("")
})
