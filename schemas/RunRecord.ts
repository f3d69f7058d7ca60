/**
 * The persisted state of one run, as the scheduler writes it to the run-state
 * KV bucket at every transition. A restarted scheduler resumes from it.
 */
import { Schema } from "effect"
import { Pipeline } from "./Pipeline.ts"
import { RunStatus } from "./Run.ts"
import { StageMetadata } from "./StageMetadata.ts"
import { TaskFailure, TaskMetrics, TaskWaiting } from "./Task.ts"

/** Where one stage of a run is. */
export const StageStatus = Schema.Literals(["pending", "dispatched", "retrying", "waiting", "succeeded", "failed", "skipped"])
export type StageStatus = typeof StageStatus.Type

/** One task of a `for_each` stage that is in flight or waits to retry. */
export const ItemTask = Schema.Struct({
  status: Schema.Literals(["dispatched", "retrying"]),
  attempt: Schema.Int,
  /** When a retrying task is due for its next attempt. */
  retryAt: Schema.optionalKey(Schema.Number)
}).annotate({ identifier: "ItemTask" })
export type ItemTask = typeof ItemTask.Type

/**
 * Where a `for_each` stage is. Tasks are numbered from 0 and sent in order; every task
 * below `next` that is not in `running` has finished, so the record grows with the tasks
 * in flight (at most `max_parallel`) and the skipped ones, never with the items. Finished
 * tasks' outputs are kept in the run's item results, not here.
 */
export const StageItems = Schema.Struct({
  /** Items the stage runs over. */
  total: Schema.Int,
  /** Items per task. */
  batch: Schema.Int,
  /** Tasks: `ceil(total / batch)`. */
  tasks: Schema.Int,
  /** The next task to send. */
  next: Schema.Int,
  /** Tasks finished (succeeded or skipped). */
  done: Schema.Int,
  /** Items finished. */
  doneItems: Schema.Int,
  /** Output count so far. */
  count: Schema.Number,
  /** Tasks in flight or waiting to retry, by index. */
  running: Schema.Record(Schema.String, ItemTask),
  /** Indexes of tasks skipped after failing for good (`on_item_failure: skip`). */
  skipped: Schema.Array(Schema.Int),
  /** Items of the skipped tasks. */
  skippedItems: Schema.Int
}).annotate({ identifier: "StageItems" })
export type StageItems = typeof StageItems.Type

/** One stage of one run. */
export const StageRun = Schema.Struct({
  name: Schema.String,
  /** Stage type (its full name); its metadata is in the run's `types`. */
  type: Schema.String,
  /** The stage's metadata when the pipeline overrides its type's. */
  metadata: Schema.optionalKey(StageMetadata),
  pool: Schema.String,
  status: StageStatus,
  /** Attempt in flight or last finished; 0 before the first dispatch. */
  attempt: Schema.Int,
  taskId: Schema.String,
  startedAt: Schema.optionalKey(Schema.Number),
  finishedAt: Schema.optionalKey(Schema.Number),
  /** When a retrying stage is due for its next attempt. */
  retryAt: Schema.optionalKey(Schema.Number),
  /** A waiting stage: what it waits for (its last answer). */
  waiting: Schema.optionalKey(TaskWaiting),
  /** When a waiting stage gives up. */
  waitUntil: Schema.optionalKey(Schema.Number),
  /** How many times a waiting stage has been run again; part of its task id. */
  wakes: Schema.optionalKey(Schema.Int),
  /** The run's `ledgerVersion` the stage's current task saw. */
  ledgerSeen: Schema.optionalKey(Schema.Int),
  count: Schema.optionalKey(Schema.Number),
  durationMs: Schema.optionalKey(Schema.Number),
  /** The executor replica that ran the last attempt. */
  executorId: Schema.optionalKey(Schema.String),
  error: Schema.optionalKey(TaskFailure),
  /** What the runtime measured of the last finished attempt, when it measures anything. */
  metrics: Schema.optionalKey(TaskMetrics),
  /** A `for_each` stage's tasks, once its items are known. */
  items: Schema.optionalKey(StageItems)
}).annotate({ identifier: "StageRun" })
export type StageRun = typeof StageRun.Type

/** A run: its pipeline, inputs, state slots, ledger, stage types and stages. */
export const RunRecord = Schema.Struct({
  version: Schema.Literal(1),
  runId: Schema.String,
  file: Schema.String,
  pipeline: Pipeline,
  inputs: Schema.Record(Schema.String, Schema.Json),
  status: RunStatus,
  state: Schema.Record(Schema.String, Schema.Json),
  ledger: Schema.Record(Schema.String, Schema.Json),
  /** Bumped by every ledger update. */
  ledgerVersion: Schema.optionalKey(Schema.Int),
  /** Metadata of every stage type the run uses, as resolved when it was submitted. */
  types: Schema.Record(Schema.String, StageMetadata),
  stages: Schema.Record(Schema.String, StageRun),
  /** Sequence number of the last event published. */
  seq: Schema.Int,
  createdAt: Schema.Number,
  /** The run's vars: the pipeline's `vars:` overridden by the submit's; every task carries them. */
  vars: Schema.optionalKey(Schema.Record(Schema.String, Schema.String)),
  /** W3C traceparent of the submit: every task, result and event of the run continues this trace. */
  traceparent: Schema.optionalKey(Schema.String),
  finishedAt: Schema.optionalKey(Schema.Number),
  error: Schema.optionalKey(TaskFailure)
}).annotate({ identifier: "RunRecord" })
export type RunRecord = typeof RunRecord.Type
