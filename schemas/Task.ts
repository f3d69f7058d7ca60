/**
 * Task messages: one stage of one run sent to a pool on `task.run.<pool>`, and
 * its outcome on `task.result.<runId>`. A result is identified by `taskId` and
 * `attempt`, which is what makes applying it idempotent.
 */
import { Schema } from "effect"

/** The error a failed task reports. */
export class TaskFailure extends Schema.Class<TaskFailure>("switchyard/TaskFailure")({
  /** Error class, e.g. `StageTimeoutError`, `StageError`, `InvalidInputError`. */
  tag: Schema.String,
  message: Schema.String,
  /** Whether another attempt may succeed. */
  retryable: Schema.Boolean
}) {}

/** What identifies one attempt of one task, in a task and in its result alike. */
const taskFields = {
  version: Schema.Literal(1),
  taskId: Schema.String,
  /** Empty for a standalone task submitted without a pipeline. */
  runId: Schema.String,
  /** The stage's name in the pipeline. */
  stage: Schema.String,
  stageType: Schema.String,
  attempt: Schema.Int
}

/** `task.run.<pool>`: run one stage of one run. */
export class TaskRun extends Schema.Class<TaskRun>("switchyard/TaskRun")({
  ...taskFields,
  inputs: Schema.Json,
  /** Milliseconds; overrides the stage type's own timeout when set. */
  timeoutMs: Schema.optionalKey(Schema.Int),
  /** Subject the result goes to; `task.result.<runId>` when absent. */
  replyTo: Schema.optionalKey(Schema.String)
}) {}

/** `task.result.<runId>`: the outcome of one attempt. */
export class TaskResult extends Schema.Class<TaskResult>("switchyard/TaskResult")({
  ...taskFields,
  executorId: Schema.String,
  pool: Schema.String,
  status: Schema.Literals(["succeeded", "failed"]),
  output: Schema.optionalKey(Schema.Json),
  error: Schema.optionalKey(TaskFailure),
  durationMs: Schema.Number
}) {}
