/**
 * Task messages: one stage of one run sent to a pool on `task.run.<pool>`, and
 * its outcome on `task.result.<runId>`. A result is identified by `taskId` and
 * `attempt`, which is what makes applying it idempotent.
 */
import { Schema } from "effect"
import { InputTemplate } from "./InputTemplate.ts"

/** The error a failed task reports. */
export class TaskFailure extends Schema.Class<TaskFailure>("switchyard/TaskFailure")({
  /** Error class, e.g. `StageTimeoutError`, `StageError`, `InvalidInputError`. */
  tag: Schema.String,
  message: Schema.String,
  /** Whether another attempt may succeed. */
  retryable: Schema.Boolean,
  /**
   * The error's own structured fields as JSON (`timeoutMs`, `stageType`,
   * `rejection`, `path`, ...), so a receiver need not parse the message.
   */
  fields: Schema.optionalKey(Schema.Record(Schema.String, Schema.Json))
}) {}

/** What identifies one attempt of one task, in a task and in its result alike. */
/**
 * A stage is waiting for the run's ledger: what it waits for, and how it ends
 * if the ledger does not satisfy it in time. The scheduler runs the stage
 * again after every ledger update and fails it with `timeoutError` when the
 * time is up.
 */
export class TaskWaiting extends Schema.Class<TaskWaiting>("switchyard/TaskWaiting")({
  message: Schema.String,
  /** Each condition not yet met, in words. */
  unmet: Schema.Array(Schema.String),
  /** Milliseconds from the first wait until the stage gives up. */
  timeoutMs: Schema.Int.pipe(Schema.check(Schema.isGreaterThanOrEqualTo(0))),
  /** The failure the stage ends with when the time is up. */
  timeoutError: TaskFailure
}) {}

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
  /** The run's ledger when the task was dispatched (absent while it is empty). */
  ledger: Schema.optionalKey(Schema.Record(Schema.String, Schema.Json)),
  /** Subject the result goes to; `task.result.<runId>` when absent. */
  replyTo: Schema.optionalKey(Schema.String),
  /**
   * The run's vars (absent when it has none); the executor renders `{{ vars.KEY }}` in
   * `inputs` from them over its own, and hands the merged set to the stage.
   */
  vars: Schema.optionalKey(Schema.Record(Schema.String, Schema.String)),
  /**
   * The strings of `inputs` that hold `{{ vars.KEY }}` or `{{ secrets.KEY }}` from the pipeline's
   * own text, spelled out as literal text and references; the executor renders these and nothing
   * else (absent: no template to render).
   */
  templates: Schema.optionalKey(Schema.Array(InputTemplate))
}) {}

/**
 * Headers the scheduler puts on every `task.run.<pool>` message, naming the task without its
 * payload: a dead letter whose payload had to be left out (it would pass the server's max
 * payload) still tells the scheduler which stage to fail.
 */
export const TaskHeaders = {
  runId: "switchyard-run-id",
  stage: "switchyard-stage",
  taskId: "switchyard-task-id",
  attempt: "switchyard-attempt"
} as const

/** The headers naming a task. */
export const taskHeaders = (task: {
  readonly runId: string
  readonly stage: string
  readonly taskId: string
  readonly attempt: number
}) => ({
  [TaskHeaders.runId]: task.runId,
  [TaskHeaders.stage]: task.stage,
  [TaskHeaders.taskId]: task.taskId,
  [TaskHeaders.attempt]: String(task.attempt)
})

/**
 * What the runtime measured of one attempt, when it measures anything (the
 * process runtime does; inline stages report none).
 */
export class TaskMetrics extends Schema.Class<TaskMetrics>("switchyard/TaskMetrics")({
  /** Milliseconds from starting the stage's process (or handing the task to a warm one) to its ending. */
  durationMs: Schema.Number,
  /** The process's exit code; absent while it lives on (a warm pool worker) or when a signal ended it. */
  exitCode: Schema.optionalKey(Schema.Int),
  /** The signal that ended the process, e.g. `SIGKILL`. */
  signal: Schema.optionalKey(Schema.String),
  /** Peak resident memory of the process (its high-water mark since it started), when it wrote a result. */
  peakRssBytes: Schema.optionalKey(Schema.Number)
}) {}

/** What every task result says besides its outcome. */
const resultFields = {
  ...taskFields,
  executorId: Schema.String,
  pool: Schema.String
}

/** What the runtime measured, when it measures anything. */
const measuredFields = {
  durationMs: Schema.Number,
  metrics: Schema.optionalKey(TaskMetrics)
}

/** A task result whose stage succeeded, with its JSON output (absent: `null`). */
export class TaskSucceeded extends Schema.Class<TaskSucceeded>("switchyard/TaskSucceeded")({
  ...resultFields,
  status: Schema.Literal("succeeded"),
  output: Schema.optionalKey(Schema.Json),
  /**
   * The output's count by the stage type's `count` metadata, when the executor counted it:
   * it does when it stored the output as blobs, whose content the scheduler does not read.
   */
  count: Schema.optionalKey(Schema.Number),
  ...measuredFields
}) {}

/** A task result whose stage failed, with why. */
export class TaskFailed extends Schema.Class<TaskFailed>("switchyard/TaskFailed")({
  ...resultFields,
  status: Schema.Literal("failed"),
  /** Absent from a sender that gave no reason: the scheduler takes it as a retryable `StageError`. */
  error: Schema.optionalKey(TaskFailure),
  ...measuredFields
}) {}

/** A task result whose stage is not done but waits for the run's ledger. */
export class TaskWaited extends Schema.Class<TaskWaited>("switchyard/TaskWaited")({
  ...resultFields,
  status: Schema.Literal("waiting"),
  /** What the stage waits for, and how it ends if the ledger does not satisfy it in time. */
  waiting: TaskWaiting,
  ...measuredFields
}) {}

/** `task.result.<runId>`: the outcome of one attempt, one of three by `status`. */
export const TaskResult = Schema.Union([TaskSucceeded, TaskFailed, TaskWaited])
/** The outcome of one attempt. */
export type TaskResult = typeof TaskResult.Type

/** Builds the result of an outcome, of the class its `status` names. */
export const makeTaskResult = (
  result:
    | ConstructorParameters<typeof TaskSucceeded>[0]
    | ConstructorParameters<typeof TaskFailed>[0]
    | ConstructorParameters<typeof TaskWaited>[0]
): TaskResult => {
  switch (result.status) {
    case "succeeded":
      return new TaskSucceeded(result)
    case "failed":
      return new TaskFailed(result)
    case "waiting":
      return new TaskWaited(result)
  }
}

/** `task.cancel.<runId>`: the run was cancelled; every executor stops the tasks of it that it holds. */
export class TaskCancel extends Schema.Class<TaskCancel>("switchyard/TaskCancel")({
  version: Schema.Literal(1),
  runId: Schema.String,
  reason: Schema.optionalKey(Schema.String)
}) {}

/** `task.cancelled.<runId>`: an executor replica stopped these tasks of a cancelled run (and acked them, with no result). */
export class TaskCancelled extends Schema.Class<TaskCancelled>("switchyard/TaskCancelled")({
  version: Schema.Literal(1),
  runId: Schema.String,
  executorId: Schema.String,
  pool: Schema.String,
  taskIds: Schema.Array(Schema.String)
}) {}
