/**
 * Run messages: `run.submit`, `run.cancel`, progress on `run.event.<runId>`,
 * and `ledger.update.<runId>`.
 */
import { Schema } from "effect"
import { Vars } from "./Pipeline.ts"
import { TaskMetrics } from "./Task.ts"

/** `run.submit`: start a run of a pipeline given as YAML (or JSON) text. */
export class RunSubmit extends Schema.Class<RunSubmit>("switchyard/RunSubmit")({
  version: Schema.Literal(1),
  /** Where the pipeline came from, used in error messages (a path or a label). */
  file: Schema.String,
  text: Schema.String,
  inputs: Schema.Record(Schema.String, Schema.Json),
  /** Optional caller-chosen run id; makes the submit idempotent. */
  runId: Schema.optionalKey(Schema.String),
  /** Values of `{{ vars.KEY }}` for this run (`switchyard run --var`); they override the pipeline's `vars:`. */
  vars: Schema.optionalKey(Vars)
}) {}

/** One problem found in a pipeline. */
export class PipelineIssue extends Schema.Class<PipelineIssue>("switchyard/PipelineIssue")({
  file: Schema.String,
  line: Schema.Int,
  column: Schema.Int,
  /** Stage name, when the problem belongs to one. */
  stage: Schema.optionalKey(Schema.String),
  /** Dotted path of the field, e.g. `stages[2].depends_on`. */
  path: Schema.String,
  message: Schema.String
}) {}

/** Reply to `run.submit`. */
export class RunSubmitReply extends Schema.Class<RunSubmitReply>("switchyard/RunSubmitReply")({
  version: Schema.Literal(1),
  runId: Schema.optionalKey(Schema.String),
  issues: Schema.Array(PipelineIssue)
}) {}

/** `run.cancel` request. */
export class RunCancel extends Schema.Class<RunCancel>("switchyard/RunCancel")({
  version: Schema.Literal(1),
  runId: Schema.String,
  reason: Schema.optionalKey(Schema.String)
}) {}

/** Reply to `run.cancel`. */
export class RunCancelReply extends Schema.Class<RunCancelReply>("switchyard/RunCancelReply")({
  version: Schema.Literal(1),
  runId: Schema.String,
  cancelled: Schema.Boolean,
  status: Schema.String,
  /** Task ids of the run that executors confirmed they stopped before the reply (absent when none was running). */
  stopped: Schema.optionalKey(Schema.Array(Schema.String))
}) {}

/** Final status of a run. */
export const RunStatus = Schema.Literals(["running", "succeeded", "failed", "cancelled"])
export type RunStatus = typeof RunStatus.Type

/** `run.event.<runId>`: progress of a run. */
export class RunEvent extends Schema.Class<RunEvent>("switchyard/RunEvent")({
  version: Schema.Literal(1),
  runId: Schema.String,
  /** Monotonic per run. */
  seq: Schema.Int,
  at: Schema.Number,
  kind: Schema.Literals([
    "run.started",
    "stage.started",
    "stage.finished",
    "stage.failed",
    "stage.retrying",
    "stage.waiting",
    "stage.unschedulable",
    "stage.skipped",
    "run.finished"
  ]),
  stage: Schema.optionalKey(Schema.String),
  stageType: Schema.optionalKey(Schema.String),
  attempt: Schema.optionalKey(Schema.Int),
  /** On `stage.finished` and `stage.failed`: the executor replica that ran the attempt. */
  executorId: Schema.optionalKey(Schema.String),
  durationMs: Schema.optionalKey(Schema.Number),
  /** Output count by the stage's `count` metadata. */
  count: Schema.optionalKey(Schema.Number),
  /** On `stage.failed` and a failed `run.finished`: the error, with its own structured fields when it has any. */
  error: Schema.optionalKey(
    Schema.Struct({
      tag: Schema.String,
      message: Schema.String,
      fields: Schema.optionalKey(Schema.Record(Schema.String, Schema.Json))
    })
  ),
  /** On `stage.retrying`: milliseconds until the next attempt. */
  retryInMs: Schema.optionalKey(Schema.Number),
  /** On `stage.unschedulable`: the pool no live executor serves. */
  pool: Schema.optionalKey(Schema.String),
  /** On `stage.unschedulable`: `unschedulable: no live executor serves pool <pool>`. */
  message: Schema.optionalKey(Schema.String),
  /** On `stage.waiting`: what the stage waits for. */
  waiting: Schema.optionalKey(Schema.Struct({ message: Schema.String, unmet: Schema.Array(Schema.String) })),
  /** On `run.finished`. */
  status: Schema.optionalKey(RunStatus),
  /** On `run.finished`: the final run state. */
  state: Schema.optionalKey(Schema.Record(Schema.String, Schema.Json)),
  /** On `stage.finished` and `stage.failed`: what the runtime measured of the attempt, when it measures anything. */
  metrics: Schema.optionalKey(TaskMetrics)
}) {}

/** Reply to `ledger.update.<runId>` when the update was sent as a request. */
export class LedgerUpdateReply extends Schema.Class<LedgerUpdateReply>("switchyard/LedgerUpdateReply")({
  version: Schema.Literal(1),
  runId: Schema.String,
  /** Whether the fields were merged: only a running run takes ledger updates; a finished run's ledger is kept as it ended. */
  applied: Schema.Boolean,
  /** The run's status, or `unknown` when there is no such run. */
  status: Schema.Literals(["running", "succeeded", "failed", "cancelled", "unknown"])
}) {}

/** `ledger.update.<runId>`: set ledger fields of a run. */
export class LedgerUpdate extends Schema.Class<LedgerUpdate>("switchyard/LedgerUpdate")({
  version: Schema.Literal(1),
  runId: Schema.String,
  fields: Schema.Record(Schema.String, Schema.Json),
  /** Who set them, for the audit trail. */
  source: Schema.optionalKey(Schema.String)
}) {}
