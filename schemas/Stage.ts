/**
 * What a stage definition is once written: its metadata as the registry sees
 * it, its input and output schemas, and one uniform `execute` that takes raw
 * JSON input and yields JSON output or a `StageFailure` shaped like the wire's
 * `TaskFailure`. Also the errors a stage author raises and the mapping from
 * any thrown or failed value to a failure (tag, message, retryability).
 */
import { Predicate, Result, Schema } from "effect"
import type { Effect } from "effect"
import type { BlobRef } from "./Blob.ts"
import type { StageMetadata } from "./StageMetadata.ts"
import { TaskFailure, TaskWaiting } from "./Task.ts"
import type { TaskMetrics } from "./Task.ts"

/** Which task a stage runs for. */
export interface StageTaskInfo {
  readonly taskId: string
  /** Empty for a standalone task. */
  readonly runId: string
  /** The stage's name in the pipeline. */
  readonly stage: string
  /** 1 on the first attempt; the scheduler's count, not the delivery count. */
  readonly attempt: number
  /** The task's vars: the run's (`--var` over the pipeline's `vars:`) over the executor's own (`SWITCHYARD_VAR_<KEY>`). */
  readonly vars?: Readonly<Record<string, string>>
  /** The run's ledger as it stood when the task was dispatched (absent while it is empty). */
  readonly ledger?: Readonly<Record<string, unknown>>
  /**
   * The secrets the stage type declares that this executor holds, by key (absent when it
   * declares none). Whatever the stage returns, throws or logs has their values masked.
   */
  readonly secrets?: Readonly<Record<string, string>>
  /**
   * Where a runtime that measures the task (the process runtime: exit code,
   * peak memory) reports it; the executor puts it in the task's result.
   * Absent when the executor does not ask (inline stages).
   */
  readonly reportMetrics?: (metrics: TaskMetrics) => void
  /**
   * The run's blob store, for data too big to pass as a value: a stage stores a large file
   * and returns the reference in its output, or reads a reference it was given. Absent where
   * the executor has none to offer (the process runtime's plugin processes).
   */
  readonly blobs?: StageBlobs
}

/**
 * Blobs as a stage sees them. JSON blob references in a task's inputs are
 * replaced by their values before the stage runs; references of any other
 * media type (a PDF, an image) reach the stage as they are, to read here.
 */
export interface StageBlobs {
  /** Stores bytes, or a stream of chunks without holding them whole, and returns the reference. */
  readonly put: (data: Uint8Array | AsyncIterable<Uint8Array>, options: { readonly mediaType: string }) => Promise<BlobRef>
  /** The content of a reference, checked against its digest. */
  readonly get: (ref: BlobRef) => Promise<Uint8Array>
  /** The content in chunks, checked as it passes (a corrupt blob throws by its last chunk). */
  readonly stream: (ref: BlobRef) => AsyncIterable<Uint8Array>
}

/** What a stage's `run` receives beside its input. */
export interface StageContext extends StageTaskInfo {
  /** The task's vars (`{}` when there are none). */
  readonly vars: Readonly<Record<string, string>>
  /** Aborted when the task is interrupted (timeout, shutdown); pass it to fetch, timers, child processes. */
  readonly signal: AbortSignal
}

/** A stage failed: the `TaskFailure` fields plus, for schema errors, the offending path. */
export class StageFailure extends Schema.TaggedError<StageFailure>()("StageFailure", {
  /** The stage type that failed. */
  stageType: Schema.String,
  /** Error class, e.g. `InvalidInputError`, `StageError`, `TypeError`. */
  tag: Schema.String,
  message: Schema.String,
  retryable: Schema.Boolean,
  /** Dotted path of the offending field, for input and output errors. */
  path: Schema.optionalKey(Schema.String),
  /** The original error's own structured fields, as JSON (see `TaskFailure.fields`). */
  fields: Schema.optionalKey(Schema.Record(Schema.String, Schema.Json))
}) {
  get isRetryable(): boolean {
    return this.retryable
  }

  /** The wire form carried by a failed `TaskResult`. */
  toTaskFailure(): TaskFailure {
    const fields = this.path === undefined ? this.fields : { ...this.fields, path: this.path }
    return new TaskFailure({
      tag: this.tag,
      message: this.message,
      retryable: this.retryable,
      ...(fields === undefined ? {} : { fields })
    })
  }

  /**
   * Maps anything a stage threw or failed with: the tag is its `_tag` or
   * `name`, the message its `message`, and it is retryable unless it says
   * `isRetryable === false` (or `retryable === false`).
   */
  static fromError(stageType: string, error: unknown): StageFailure {
    if (error instanceof StageFailure) return error
    const fields = fieldsOf(error)
    return new StageFailure({
      stageType,
      tag: tagOf(error),
      message: messageOf(error),
      retryable: retryableOf(error),
      ...(fields === undefined ? {} : { fields })
    })
  }
}

/** An error a stage author raises to choose its retryability. */
export class StageError extends Schema.TaggedError<StageError>()("StageError", {
  message: Schema.String,
  /** @default true */
  retryable: Schema.optionalKey(Schema.Boolean)
}) {
  get isRetryable(): boolean {
    return this.retryable ?? true
  }
}

/**
 * Raised by a stage that is not done yet because the run's ledger does not
 * satisfy it: the scheduler marks the stage waiting (showing `unmet`), runs it
 * again after every ledger update, and fails it with `timeoutError` when
 * `timeoutMs` have passed since it first waited.
 */
export class StageWaiting extends Schema.TaggedError<StageWaiting>()("StageWaiting", {
  message: Schema.String,
  /** Each condition not yet met, in words. */
  unmet: Schema.Array(Schema.String),
  timeoutMs: Schema.Int,
  /** The failure the stage ends with when the time is up. */
  timeoutError: Schema.Struct({ tag: Schema.String, message: Schema.String })
}) {}

/** What a `StageWaiting` says, as a task result carries it (its timeout error never retried). */
export const waitingOf = (waiting: StageWaiting): TaskWaiting =>
  new TaskWaiting({
    message: waiting.message,
    unmet: waiting.unmet,
    timeoutMs: waiting.timeoutMs,
    timeoutError: new TaskFailure({ ...waiting.timeoutError, retryable: false })
  })

/**
 * How an attempt of a stage ended without failing: done, with its JSON
 * output, or not done yet because the run's ledger does not satisfy it.
 * Waiting is an outcome, not a failure: the stage answers it, and the
 * scheduler runs the stage again when the ledger changes.
 */
export type StageOutcome =
  { readonly _tag: "Done"; readonly output: Schema.Json } | { readonly _tag: "Waiting"; readonly waiting: TaskWaiting }

/** Constructors of `StageOutcome`. */
export const StageOutcome = {
  done: (output: Schema.Json): StageOutcome => ({ _tag: "Done", output }),
  waiting: (waiting: TaskWaiting): StageOutcome => ({ _tag: "Waiting", waiting })
} as const

/** A defined stage type, ready to be served by an executor. */
export interface StageDefinition<I = unknown, O = unknown> {
  /** What the registry stores; `runtime` is `inline`. */
  readonly metadata: StageMetadata
  /** Decodes a task's JSON inputs. */
  readonly inputs: Schema.Codec<I, unknown>
  /** Encodes the stage's result to JSON. */
  readonly outputs: Schema.Codec<O, unknown>
  /**
   * Decodes `rawInput`, runs the stage and encodes its output: `Done` with
   * it, or `Waiting` when the stage waits for the ledger. Interrupting the
   * effect aborts `ctx.signal`; timeouts are the caller's to apply.
   */
  readonly execute: (rawInput: unknown, info: StageTaskInfo) => Effect.Effect<StageOutcome, StageFailure>
}

/** What `fieldsOf` leaves out: what `TaskFailure` already carries, and what is not data. */
const notFields = new Set(["_tag", "name", "message", "stack", "cause", "retryable"])

/** An error's own enumerable fields that are JSON (a tagged error's schema fields), or nothing. */
const fieldsOf = (error: unknown): Record<string, Schema.Json> | undefined => {
  if (typeof error !== "object" || error === null) return undefined
  const own = Object.entries(error).filter(([key, value]) => !notFields.has(key) && value !== undefined && typeof value !== "function")
  if (own.length === 0) return undefined
  const json = Result.try(() => JSON.parse(JSON.stringify(Object.fromEntries(own))) as Record<string, Schema.Json>)
  return Result.isSuccess(json) && Object.keys(json.success).length > 0 ? json.success : undefined
}

const tagOf = (error: unknown): string => {
  if (Predicate.hasProperty(error, "_tag") && Predicate.isString(error._tag)) return error._tag
  if (error instanceof Error) return error.name
  return "StageError"
}

const messageOf = (error: unknown): string => {
  if (Predicate.hasProperty(error, "message") && Predicate.isString(error.message)) return error.message
  if (Predicate.isString(error)) return error
  return String(error)
}

const retryableOf = (error: unknown): boolean => {
  if (Predicate.hasProperty(error, "isRetryable") && error.isRetryable === false) return false
  if (Predicate.hasProperty(error, "retryable") && error.retryable === false) return false
  return true
}
