/**
 * Handling one leased `task.run` message, from bytes to ack decision: decode
 * the `TaskRun` (malformed: terminate with the reason), find the stage
 * (unknown or rejected: a failed, non-retryable result), run it under its
 * timeout while renewing the lease, publish the `TaskResult` with a message
 * id of `taskId:attempt` (so a redelivered task's repeated result is stored
 * once), and only then ack.
 */
import { Clock, Duration, Effect, Option, Schedule } from "effect"
import type { Schema } from "effect"
import type { Bus, JobMessage } from "../../bus/Bus.ts"
import * as Codec from "../../bus/Codec.ts"
import type { Names } from "../../bus/Subjects.ts"
import { WireType } from "../../../schemas/Catalog.ts"
import { withParentFrom } from "../../telemetry/index.ts"
import { StageFailure } from "../../../sdk/Stage.ts"
import type { StageTaskInfo } from "../../../sdk/Stage.ts"
import type { TaskFailure } from "../../../schemas/Task.ts"
import { TaskResult, TaskRun } from "../../../schemas/Task.ts"
import type { ExecutorSettings } from "../ExecutorConfig.ts"
import { StageTimeoutError, UnknownStageError } from "../ExecutorError.ts"
import type { StageCatalog } from "../StageCatalog.ts"
import type { AckDecision } from "./ackDecision.ts"
import { ack, nak, term } from "./ackDecision.ts"
import type { Rejections } from "./registration.ts"

/** Trace context headers copied from a task to its result. */
const traceHeaders = ["traceparent", "tracestate"] as const

/** How long a task whose result could not be published waits before it is delivered again. */
const republishDelay = Duration.seconds(1)

type Outcome =
  | { readonly status: "succeeded"; readonly output: Schema.Json }
  | { readonly status: "failed"; readonly error: TaskFailure }

/** Builds the handler of one task message. */
export const makeTaskHandler = (options: {
  readonly bus: Bus["Service"]
  readonly names: Names
  readonly settings: ExecutorSettings
  readonly catalog: StageCatalog["Service"]
  readonly rejections: Effect.Effect<Rejections>
}) => {
  const { bus, catalog, names, settings } = options
  const decodeTask = Codec.decode(TaskRun, WireType.TaskRun)

  const runStage = (task: TaskRun): Effect.Effect<Outcome> =>
    Effect.gen(function*() {
      const definition = catalog.get(task.stageType)
      const rejection = (yield* options.rejections).get(task.stageType)
      if (Option.isNone(definition) || rejection !== undefined) {
        return failed(task.stageType, new UnknownStageError({
          stageType: task.stageType,
          pool: settings.pool,
          ...(rejection === undefined ? {} : { rejection })
        }))
      }
      const timeoutMs = task.timeoutMs ?? definition.value.metadata.timeoutMs
      const info: StageTaskInfo = { taskId: task.taskId, runId: task.runId, stage: task.stage, attempt: task.attempt }
      return yield* definition.value.execute(task.inputs, info).pipe(
        Effect.timeoutOrElse({
          duration: Duration.millis(timeoutMs),
          orElse: () =>
            Effect.fail(
              StageFailure.fromError(task.stageType, new StageTimeoutError({ stageType: task.stageType, taskId: task.taskId, timeoutMs }))
            )
        }),
        Effect.map((output): Outcome => ({ status: "succeeded", output })),
        Effect.catch((failure) => Effect.succeed<Outcome>({ status: "failed", error: failure.toTaskFailure() })),
        Effect.withSpan("Executor.runStage", {
          attributes: { stageType: task.stageType, taskId: task.taskId, attempt: task.attempt, pool: settings.pool }
        })
      )
    })

  const publishResult = (message: JobMessage, task: TaskRun, result: TaskResult, subject: string) => {
    const encoded = Codec.encode(TaskResult, WireType.TaskResult, result)
    const headers: Record<string, string> = { ...encoded.headers }
    for (const key of traceHeaders) {
      const value = message.headers[key]
      if (value !== undefined) headers[key] = value
    }
    return bus.enqueue(subject, encoded.data, { msgId: `${task.taskId}:${task.attempt}`, headers }).pipe(
      Effect.retry({
        while: (error) => error.isRetryable,
        schedule: Schedule.exponential("100 millis", 2),
        times: 4
      })
    )
  }

  /** Renews the lease every `progressInterval` for as long as the surrounding scope is open. */
  const keepLease = (message: JobMessage) =>
    message.working.pipe(
      Effect.catch((error) => Effect.logDebug("could not renew a task lease", { seq: message.seq, error: error.message })),
      Effect.delay(settings.progressInterval),
      Effect.forever,
      Effect.forkScoped
    )

  /** Handles one message; never fails, and returns what to do with the message. */
  return (message: JobMessage): Effect.Effect<AckDecision> =>
    Effect.gen(function*() {
      const decoded = yield* Effect.result(decodeTask(message))
      if (decoded._tag === "Failure") {
        const error = decoded.failure
        yield* Effect.logWarning("terminating a malformed task message", {
          subject: message.subject,
          seq: message.seq,
          path: error.path,
          reason: error.message
        })
        return term(error.toString())
      }
      const task = decoded.success
      const subject = task.replyTo ?? (task.runId === "" ? undefined : names.taskResult(task.runId))
      if (subject === undefined) {
        const error = new Codec.MalformedMessageError({
          subject: message.subject,
          path: "replyTo",
          message: "TaskRun: a task without a runId must name a replyTo subject"
        })
        yield* Effect.logWarning("terminating a task that has nowhere to send its result", { seq: message.seq, taskId: task.taskId })
        return term(error.toString())
      }
      return yield* Effect.scoped(Effect.gen(function*() {
        yield* keepLease(message)
        const startedAt = yield* Clock.currentTimeMillis
        const outcome = yield* runStage(task)
        const finishedAt = yield* Clock.currentTimeMillis
        const result = new TaskResult({
          version: 1,
          taskId: task.taskId,
          runId: task.runId,
          stage: task.stage,
          stageType: task.stageType,
          attempt: task.attempt,
          executorId: settings.executorId,
          pool: settings.pool,
          durationMs: finishedAt - startedAt,
          ...(outcome.status === "succeeded"
            ? { status: "succeeded" as const, output: outcome.output }
            : { status: "failed" as const, error: outcome.error })
        })
        return yield* publishResult(message, task, result, subject).pipe(
          Effect.as(ack),
          Effect.catch((error) =>
            Effect.logError("could not publish a task result; the task will run again", {
              taskId: task.taskId,
              attempt: task.attempt,
              subject,
              error: error.message
            }).pipe(Effect.as(nak(republishDelay)))
          )
        )
      })).pipe(
        Effect.annotateLogs({ taskId: task.taskId, runId: task.runId, stageType: task.stageType, attempt: task.attempt })
      )
    }).pipe(
      Effect.withSpan("Executor.handleTask", { attributes: { subject: message.subject, deliveryCount: message.deliveryCount } }),
      // The task's span continues the trace of whoever sent it.
      withParentFrom(message.headers)
    )
}

const failed = (stageType: string, error: unknown): Outcome => ({
  status: "failed",
  error: StageFailure.fromError(stageType, error).toTaskFailure()
})
