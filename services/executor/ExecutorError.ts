/**
 * Failures the executor itself reports for a task (as opposed to failures of
 * the stage's own code): the task named a stage type this pool does not
 * serve, or the stage ran past its timeout. They reach the scheduler as the
 * `error` of a failed `TaskResult`, by tag, message and retryability.
 */
import { Schema } from "effect"
import { StageRejection } from "@switchyard/schemas/Registry"

/** The task's stage type is not served by this pool (unknown, or rejected by the registry). */
export class UnknownStageError extends Schema.TaggedError<UnknownStageError>()("UnknownStageError", {
  stageType: Schema.String,
  pool: Schema.String,
  /** Why the registry refused this type, when it did. */
  rejection: Schema.optionalKey(StageRejection)
}) {
  get isRetryable(): boolean {
    return false
  }
  override get message(): string {
    return this.rejection === undefined
      ? `pool ${this.pool} does not serve stage type ${this.stageType}`
      : `pool ${this.pool} does not serve stage type ${this.stageType}: the registry rejected it (${this.rejection.code}${
          this.rejection.path === "" ? "" : ` at ${this.rejection.path}`
        }: ${this.rejection.message})`
  }
}

/** The stage did not finish within its timeout and was interrupted. */
export class StageTimeoutError extends Schema.TaggedError<StageTimeoutError>()("StageTimeoutError", {
  stageType: Schema.String,
  taskId: Schema.String,
  timeoutMs: Schema.Number
}) {
  get isRetryable(): boolean {
    return true
  }
  override get message(): string {
    return `stage ${this.stageType} (task ${this.taskId}) did not finish within ${this.timeoutMs} ms`
  }
}

/** A task references secrets its stage type does not declare in its capabilities. */
export class SecretNotDeclaredError extends Schema.TaggedError<SecretNotDeclaredError>()("SecretNotDeclaredError", {
  stageType: Schema.String,
  keys: Schema.Array(Schema.String)
}) {
  get isRetryable(): boolean {
    return false
  }
  override get message(): string {
    return `stage type ${this.stageType} does not declare the secret(s) ${this.keys.join(", ")} in its capabilities`
  }
}

/** A task references secrets this executor's secret source does not hold. */
export class SecretNotFoundError extends Schema.TaggedError<SecretNotFoundError>()("SecretNotFoundError", {
  stageType: Schema.String,
  keys: Schema.Array(Schema.String)
}) {
  get isRetryable(): boolean {
    return false
  }
  override get message(): string {
    return `this executor has no value for the secret(s) ${this.keys.join(", ")} (stage type ${this.stageType})`
  }
}

/** A task's inputs reference vars that neither the run nor this executor defines. */
export class UnknownVarError extends Schema.TaggedError<UnknownVarError>()("UnknownVarError", {
  /** The stage's name in the pipeline. */
  stage: Schema.String,
  stageType: Schema.String,
  keys: Schema.Array(Schema.String),
  /** The var names that are defined. */
  known: Schema.Array(Schema.String)
}) {
  get isRetryable(): boolean {
    return false
  }
  override get message(): string {
    const names = this.keys.map((key) => `{{ vars.${key} }}`).join(", ")
    return `stage "${this.stage}" (${this.stageType}): unknown var(s) ${names}; expected one of the pipeline's vars:, a --var or SWITCHYARD_VAR_<KEY> on the executor (defined: ${this.known.join(", ") || "none"})`
  }
}

/** A stage's result is larger than the bus carries; another attempt would give the same. */
export class ResultTooLargeError extends Schema.TaggedError<ResultTooLargeError>()("ResultTooLargeError", {
  stageType: Schema.String,
  bytes: Schema.Number,
  limit: Schema.Number
}) {
  get isRetryable(): boolean {
    return false
  }
  override get message(): string {
    return `the result of stage ${this.stageType} is ${this.bytes} bytes encoded, over the limit of ${this.limit} (SWITCHYARD_MAX_RESULT_BYTES; NATS max_payload); write large outputs to files or a store and return a reference`
  }
}

/** A blob a task's inputs reference could not be read: missing from the store, or corrupt. */
export class InputBlobError extends Schema.TaggedError<InputBlobError>()("InputBlobError", {
  /** The stage's name in the pipeline. */
  stage: Schema.String,
  stageType: Schema.String,
  /** What the blob store said, naming the reference. */
  reason: Schema.String,
  retryable: Schema.Boolean
}) {
  get isRetryable(): boolean {
    return this.retryable
  }
  override get message(): string {
    return `stage "${this.stage}" (${this.stageType}): an input could not be read: ${this.reason}`
  }
}

/** A stage's output could not be stored as a blob. */
export class OutputBlobError extends Schema.TaggedError<OutputBlobError>()("OutputBlobError", {
  stage: Schema.String,
  stageType: Schema.String,
  reason: Schema.String
}) {
  get isRetryable(): boolean {
    return true
  }
  override get message(): string {
    return `stage "${this.stage}" (${this.stageType}): its output could not be stored as a blob: ${this.reason}`
  }
}

/** A task's `templates` name a place in its inputs that holds no string: the task is malformed. */
export class TemplatePathError extends Schema.TaggedError<TemplatePathError>()("TemplatePathError", {
  stage: Schema.String,
  stageType: Schema.String,
  /** The path as written, such as `headers.Authorization` or `urls[0]`. */
  path: Schema.String
}) {
  get isRetryable(): boolean {
    return false
  }
  override get message(): string {
    return `stage "${this.stage}" (${this.stageType}): the task's templates name ${this.path}, which is not a string of its inputs`
  }
}
