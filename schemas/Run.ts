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

/** What every run event carries. */
const eventFields = {
  version: Schema.Literal(1),
  runId: Schema.String,
  /** Monotonic per run. */
  seq: Schema.Int,
  at: Schema.Number
}

/** What every stage event carries besides the run's. */
const stageFields = {
  ...eventFields,
  stage: Schema.String,
  stageType: Schema.String
}

/** A failure as events carry it, with its own structured fields when it has any. */
const EventError = Schema.Struct({
  tag: Schema.String,
  message: Schema.String,
  fields: Schema.optionalKey(Schema.Record(Schema.String, Schema.Json))
})

/** The run was accepted and its first stages are about to start. */
export class RunStarted extends Schema.Class<RunStarted>("switchyard/RunStarted")({
  ...eventFields,
  kind: Schema.Literal("run.started"),
  /** The run's trace id (W3C, 32 hex digits), when its submit was traced: search it in a tracing UI. */
  traceId: Schema.optionalKey(Schema.String)
}) {}

/** An attempt of a stage was sent to its pool. */
export class StageStarted extends Schema.Class<StageStarted>("switchyard/StageStarted")({
  ...stageFields,
  kind: Schema.Literal("stage.started"),
  attempt: Schema.Int
}) {}

/** A stage succeeded; its output was applied to the run's state. */
export class StageFinished extends Schema.Class<StageFinished>("switchyard/StageFinished")({
  ...stageFields,
  kind: Schema.Literal("stage.finished"),
  attempt: Schema.Int,
  /** The executor replica that ran the attempt. */
  executorId: Schema.String,
  durationMs: Schema.Number,
  /** Output count by the stage's `count` metadata. */
  count: Schema.Number,
  /** What the runtime measured of the attempt, when it measures anything. */
  metrics: Schema.optionalKey(TaskMetrics)
}) {}

/** An attempt of a stage failed (a retry may follow: `stage.retrying`). */
export class StageFailed extends Schema.Class<StageFailed>("switchyard/StageFailed")({
  ...stageFields,
  kind: Schema.Literal("stage.failed"),
  attempt: Schema.Int,
  /** The task of a `for_each` stage that failed: its index (items `index * batch` on). */
  item: Schema.optionalKey(Schema.Int),
  /** With `on_item_failure: skip`: the item was recorded as skipped and the stage goes on. */
  skipped: Schema.optionalKey(Schema.Boolean),
  /** The executor replica that ran the attempt, when one did. */
  executorId: Schema.optionalKey(Schema.String),
  durationMs: Schema.Number,
  error: EventError,
  metrics: Schema.optionalKey(TaskMetrics)
}) {}

/** A failed stage will run again after `retryInMs`. */
export class StageRetrying extends Schema.Class<StageRetrying>("switchyard/StageRetrying")({
  ...stageFields,
  kind: Schema.Literal("stage.retrying"),
  /** The attempt that comes next. */
  attempt: Schema.Int,
  /** The task of a `for_each` stage that will run again. */
  item: Schema.optionalKey(Schema.Int),
  retryInMs: Schema.Number
}) {}

/** A stage waits for the run's ledger. */
export class StageWaitingEvent extends Schema.Class<StageWaitingEvent>("switchyard/StageWaitingEvent")({
  ...stageFields,
  kind: Schema.Literal("stage.waiting"),
  attempt: Schema.Int,
  waiting: Schema.Struct({ message: Schema.String, unmet: Schema.Array(Schema.String) })
}) {}

/** No live executor serves the pool a dispatched stage waits in. */
export class StageUnschedulable extends Schema.Class<StageUnschedulable>("switchyard/StageUnschedulable")({
  ...stageFields,
  kind: Schema.Literal("stage.unschedulable"),
  attempt: Schema.Int,
  pool: Schema.String,
  /** `unschedulable: no live executor serves pool <pool>`. */
  message: Schema.String
}) {}

/** A task of a `for_each` stage finished: how far the stage is, counted in items. */
export class StageProgress extends Schema.Class<StageProgress>("switchyard/StageProgress")({
  ...stageFields,
  kind: Schema.Literal("stage.progress"),
  /** Items finished (succeeded or skipped). */
  done: Schema.Int,
  /** Items the stage runs over. */
  total: Schema.Int,
  /** Items skipped after failing (`on_item_failure: skip`). */
  skipped: Schema.Int,
  /** Output count so far, by the stage's `count` metadata. */
  count: Schema.Number
}) {}

/** A stage will not run: the run ended before it could. */
export class StageSkipped extends Schema.Class<StageSkipped>("switchyard/StageSkipped")({
  ...stageFields,
  kind: Schema.Literal("stage.skipped")
}) {}

/** The run ended, with its final state (and its error when it did not succeed). */
export class RunFinished extends Schema.Class<RunFinished>("switchyard/RunFinished")({
  ...eventFields,
  kind: Schema.Literal("run.finished"),
  status: RunStatus,
  /** The run's trace id, as `run.started` gives it. */
  traceId: Schema.optionalKey(Schema.String),
  state: Schema.Record(Schema.String, Schema.Json),
  error: Schema.optionalKey(EventError)
}) {}

/** `run.event.<runId>`: progress of a run, one of ten kinds by `kind`. */
export const RunEvent = Schema.Union([
  RunStarted,
  StageStarted,
  StageProgress,
  StageFinished,
  StageFailed,
  StageRetrying,
  StageWaitingEvent,
  StageUnschedulable,
  StageSkipped,
  RunFinished
])
/** Progress of a run. */
export type RunEvent = typeof RunEvent.Type

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
