/**
 * Handling one leased `task.run` message, from bytes to ack decision: decode
 * the `TaskRun` (malformed: terminate with the reason), find the stage
 * (unknown or rejected: a failed, non-retryable result), run it under its
 * timeout while the replica's `LeaseKeeper` renews the lease, publish the
 * `TaskResult` with a message id of `taskId:attempt` (so a redelivered task's
 * repeated result is stored once), and only then ack. A task of a run is
 * recorded in `RunningTasks` while it runs, so a cancel notice can interrupt
 * it; one of a run cancelled before it was leased is acked without running.
 *
 * The task's `templates` (the strings of its inputs that the pipeline's own
 * text wrote with `{{ vars.KEY }}` or `{{ secrets.KEY }}`) are rendered
 * first, vars from the task's over the executor's own (an unknown key fails
 * the task, naming stage and key), secrets from the executor's source; the
 * rest of the inputs is data and is never rendered. The merged vars reach
 * the stage as `ctx.vars`.
 *
 * Blob references in the inputs are replaced by the values they stand for
 * before the stage runs (a missing or corrupt blob fails the task, naming the
 * reference and the stage), and an output whose result would pass the blob
 * threshold is stored as blobs: the result carries references.
 *
 * A task that resolved secrets runs its stage under a masking logger and
 * tracer (`maskedTelemetry.ts`) with the process's stdout and stderr masked
 * (`consoleMasking.ts`), and its result and error are masked before they
 * leave.
 *
 * This is the per-task hot path: one span per task (the trace hop, without a
 * stack capture, naming the stage type, task and attempt), no fiber or timer
 * of its own unless the stage itself is asynchronous, log annotations only
 * where something may log, and retry machinery built only once a publish
 * has failed.
 */
import { type Clock, Duration, Effect, Exit, Option, Schedule } from "effect"
import { identity } from "effect/Function"
import { Redacted } from "effect"
import type { Schema } from "effect"
import type { Bus, JobMessage } from "@switchyard/bus/Bus"
import { BlobStore } from "@switchyard/bus/BlobStore"
import { containsRef, externalize, resolve as resolveBlobs } from "@switchyard/bus/BlobJson"
import { Lru } from "@switchyard/bus/Lru"
import type { BusError } from "@switchyard/bus/BusError"
import * as Codec from "@switchyard/schemas/Codec"
import type { Names } from "@switchyard/schemas/Subjects"
import { WireType } from "@switchyard/schemas/Catalog"
import { remoteSpan, traceHeaders } from "@switchyard/schemas/TraceContext"
import { StageFailure } from "@switchyard/schemas/Stage"
import type { StageDefinition, StageTaskInfo, StageOutcome } from "@switchyard/schemas/Stage"
import { TaskFailure, TaskRun, TaskWaiting } from "@switchyard/schemas/Task"
import type { TaskMetrics } from "@switchyard/schemas/Task"
import type { ExecutorSettings } from "../ExecutorConfig.ts"
import {
  InputBlobError,
  OutputBlobError,
  ResultTooLargeError,
  SecretNotDeclaredError,
  SecretNotFoundError,
  StageTimeoutError,
  TemplatePathError,
  UnknownStageError,
  UnknownVarError
} from "../ExecutorError.ts"
import { SecretSource } from "../SecretSource.ts"
import type { StageCatalog } from "../StageCatalog.ts"
import type { AckDecision } from "./ackDecision.ts"
import { ack, nak, term } from "./ackDecision.ts"
import type { LeaseKeeper } from "./leaseKeeper.ts"
import type { RunningTasks } from "./runningTasks.ts"
import { encodeTaskResult, type Outcome } from "./resultEncoding.ts"
import type { Rejections } from "./registration.ts"
import { withMasking } from "./maskedTelemetry.ts"
import { withConsoleMasking } from "./consoleMasking.ts"
import { makeStageBlobs } from "./stageBlobs.ts"
import { recordRedelivery, recordTask } from "./instruments.ts"
import { countOutput } from "@switchyard/schemas/Count"
import { makeMasker, maskValue } from "@switchyard/schemas/SecretMask"
import { applyTemplates, formatPath, strayTemplate } from "./inputTemplates.ts"
import { templateKeys } from "@switchyard/schemas/InputTemplate"

/** The span name's destination for results: one name for every run's subject. */
const resultSubjectFamily = "task.result"

/** A gate that waits shows as an event of the task's span, naming what it waits for. */
const gateEvent = (waiting: TaskWaiting): Effect.Effect<void> =>
  Effect.currentSpan.pipe(
    Effect.flatMap((span) =>
      Effect.clockWith((clock) =>
        Effect.sync(() =>
          span.event("switchyard.gate.waiting", clock.currentTimeNanosUnsafe(), {
            "switchyard.gate.message": waiting.message,
            "switchyard.gate.unmet": waiting.unmet.join("; ")
          })
        )
      )
    ),
    Effect.ignore
  )

/** What a task's spans say of it. */
const stageAttributes = (task: TaskRun) => ({
  "switchyard.run.id": task.runId,
  "switchyard.stage": task.stage,
  "switchyard.stage.type": task.stageType,
  "switchyard.task.id": task.taskId,
  "switchyard.attempt": task.attempt
})

/** OpenTelemetry messaging attributes of publishing a result. */
const producerAttributes = (subject: string, msgId: string, status: string) => ({
  "messaging.system": "nats",
  "messaging.operation.type": "send",
  "messaging.destination.name": subject,
  "messaging.message.id": msgId,
  "switchyard.task.outcome": status
})

/** How long a task whose result could not be published waits before it is delivered again. */
const republishDelay = Duration.seconds(1)

/** Backoff of result publishes after the first failed one: 100 ms, then doubling, four more tries. */
const firstRepublishDelay = Duration.millis(100)
const republishSchedule = Schedule.exponential("200 millis", 2)
const republishTimes = 3

/** The task's span is its trace hop; where it was created is always this file, so no stack is captured. */
const noStackTrace = { captureStackTrace: false } as const

type LogAnnotations = Readonly<Record<string, unknown>>

const succeeded = (output: Schema.Json): Outcome => ({ status: "succeeded", output })
const maskWaiting = (waiting: TaskWaiting, mask: (text: string) => string): TaskWaiting =>
  new TaskWaiting({
    message: mask(waiting.message),
    unmet: waiting.unmet.map(mask),
    timeoutMs: waiting.timeoutMs,
    timeoutError: new TaskFailure({ ...waiting.timeoutError, message: mask(waiting.timeoutError.message) })
  })

const failedWith = (failure: StageFailure): Outcome => ({ status: "failed", error: failure.toTaskFailure() })

// A stage waiting for the ledger answered an outcome, not a failure.
const finished = (outcome: StageOutcome): Outcome =>
  outcome._tag === "Done" ? succeeded(outcome.output) : { status: "waiting", waiting: outcome.waiting }

/** The keys of a task without templates. */
const noKeys = { vars: new Set<string>(), secrets: new Set<string>() }

/** Parsed input blobs kept across tasks (segments are about 256 KiB of JSON each). */
const inputBlobsCached = 64

/** Builds the handler of one task message. */
export const makeTaskHandler = (options: {
  readonly bus: Bus["Service"]
  readonly names: Names
  readonly settings: ExecutorSettings
  readonly catalog: StageCatalog["Service"]
  /** The registry's rejections as they stand now. */
  readonly rejections: () => Rejections
  readonly leases: LeaseKeeper
  /** Where running tasks are recorded for cancel notices. */
  readonly running: RunningTasks
  readonly clock: Clock.Clock
  readonly blobs: BlobStore["Service"]
}) => {
  const { blobs, bus, catalog, clock, leases, names, running, settings } = options
  const decodeTask = Codec.decodeExit(TaskRun, WireType.TaskRun)
  const stageBlobs = makeStageBlobs(blobs)
  // Parsed blobs by digest across tasks: the tasks of a `for_each` stage read parts of the same
  // stored list, so its segment list and segments are fetched once, not once per task.
  const inputBlobs = new Lru<string, unknown>(inputBlobsCached)

  const runStage = (
    definition: StageDefinition,
    task: TaskRun,
    vars: Readonly<Record<string, string>>,
    annotations: LogAnnotations,
    secrets?: Readonly<Record<string, string>>
  ): Effect.Effect<Outcome> => {
    const timeoutMs = task.timeoutMs ?? definition.metadata.timeoutMs
    // Runtimes other than inline measure their tasks (exit code, peak memory); inline stages get no sink.
    let metrics: TaskMetrics | undefined
    const measured = definition.metadata.runtime !== "inline"
    const info: StageTaskInfo = {
      taskId: task.taskId,
      runId: task.runId,
      stage: task.stage,
      attempt: task.attempt,
      vars,
      blobs: stageBlobs,
      ...(task.ledger === undefined ? {} : { ledger: task.ledger }),
      ...(secrets === undefined ? {} : { secrets }),
      ...(measured ? { reportMetrics: (reported: TaskMetrics) => void (metrics = reported) } : {})
    }
    const withMetrics = (outcome: Outcome): Outcome => (metrics === undefined ? outcome : { ...outcome, metrics })
    const run = (inputs: unknown) =>
      definition.execute(inputs, info).pipe(
        // The stage's own span: a failure ends it with the (masked) error.
        Effect.withSpan(`stage ${task.stageType}`, { attributes: stageAttributes(task) }, noStackTrace),
        Effect.timeoutOrElse({
          duration: Duration.millis(timeoutMs),
          orElse: () =>
            Effect.fail(
              StageFailure.fromError(task.stageType, new StageTimeoutError({ stageType: task.stageType, taskId: task.taskId, timeoutMs }))
            )
        }),
        Effect.matchEager({ onSuccess: finished, onFailure: failedWith })
      )
    const outcome = (containsRef(task.inputs) ? Effect.flatMap(inputsOf(task), run) : run(task.inputs)).pipe(
      Effect.catch((failure: StageFailure) => Effect.succeed(failedWith(failure))),
      Effect.annotateLogs(annotations)
    )
    return measured ? Effect.map(outcome, withMetrics) : outcome
  }

  /**
   * The values the task's inputs' blob references stand for. Read once vars and secrets were
   * rendered, so what a blob holds is data, never a template.
   */
  const inputsOf = (task: TaskRun): Effect.Effect<unknown, StageFailure> =>
    resolveBlobs(task.inputs, { cache: inputBlobs }).pipe(
      Effect.provideService(BlobStore, blobs),
      Effect.mapError((error) =>
        StageFailure.fromError(
          task.stageType,
          new InputBlobError({ stage: task.stage, stageType: task.stageType, reason: error.message, retryable: error.isRetryable })
        )
      )
    )

  const outcomeOf = (task: TaskRun, annotations: LogAnnotations): Effect.Effect<Outcome> => {
    const definition = catalog.get(task.stageType)
    const rejection = options.rejections().get(task.stageType)
    if (definition._tag === "None" || rejection !== undefined) {
      return Effect.succeed(
        failedWith(
          StageFailure.fromError(
            task.stageType,
            new UnknownStageError({ stageType: task.stageType, pool: settings.pool, ...(rejection === undefined ? {} : { rejection }) })
          )
        )
      )
    }
    // The task's templates (from the pipeline's text) are all that is rendered: vars from the run's
    // over this executor's, secrets below. Whatever else the inputs hold is data.
    const vars = task.vars === undefined ? settings.vars : { ...settings.vars, ...task.vars }
    const templates = task.templates ?? []
    const keys = templates.length === 0 ? noKeys : templateKeys(templates)
    const fail = (error: StageFailure) => Effect.succeed(failedWith(error))
    if (keys.vars.size > 0) {
      const unknown = [...keys.vars].filter((key) => !Object.hasOwn(vars, key))
      if (unknown.length > 0) {
        return fail(
          StageFailure.fromError(
            task.stageType,
            new UnknownVarError({ stage: task.stage, stageType: task.stageType, keys: unknown, known: Object.keys(vars) })
          )
        )
      }
    }
    const stray = strayTemplate(task.inputs, templates)
    if (stray !== undefined) {
      return fail(
        StageFailure.fromError(
          task.stageType,
          new TemplatePathError({ stage: task.stage, stageType: task.stageType, path: formatPath(stray.path) })
        )
      )
    }
    const declared = definition.value.metadata.capabilities?.secrets ?? []
    if (keys.secrets.size === 0 && declared.length === 0) {
      const rendered =
        templates.length === 0 ? task : ({ ...task, inputs: applyTemplates(task.inputs, templates, (ref) => vars[ref.key]!) } as TaskRun)
      return runStage(definition.value, rendered, vars, annotations)
    }
    return runWithSecrets(definition.value, task, vars, keys.secrets, annotations)
  }

  /**
   * Resolves the task's secrets just before the call: those its inputs reference (each must be
   * declared and found) and every other one the stage type declares that this executor holds
   * (handed to the stage as `ctx.secrets`). All of them are masked out of its outcome.
   */
  const runWithSecrets = (
    definition: StageDefinition,
    task: TaskRun,
    vars: Readonly<Record<string, string>>,
    keys: ReadonlySet<string>,
    annotations: LogAnnotations
  ) =>
    Effect.gen(function* () {
      const declared = new Set(definition.metadata.capabilities?.secrets ?? [])
      const undeclared = [...keys].filter((key) => !declared.has(key))
      if (undeclared.length > 0) {
        return failedWith(
          StageFailure.fromError(task.stageType, new SecretNotDeclaredError({ stageType: task.stageType, keys: undeclared }))
        )
      }
      const source = yield* SecretSource
      const values = new Map<string, Redacted.Redacted<string>>()
      for (const key of declared) {
        const found = yield* source.lookup(key)
        if (Option.isSome(found)) values.set(key, found.value)
      }
      const missing = [...keys].filter((key) => !values.has(key))
      if (missing.length > 0) {
        return failedWith(StageFailure.fromError(task.stageType, new SecretNotFoundError({ stageType: task.stageType, keys: missing })))
      }
      // A stage type may declare secrets this executor does not hold: with none found there is nothing to mask.
      const templates = task.templates ?? []
      const render = (value: (key: string) => string) =>
        templates.length === 0
          ? task
          : ({
              ...task,
              inputs: applyTemplates(task.inputs, templates, (ref) => (ref.root === "vars" ? vars[ref.key]! : value(ref.key)))
            } as TaskRun)
      if (values.size === 0)
        return yield* runStage(
          definition,
          render(() => ""),
          vars,
          annotations,
          {}
        )
      const mask = makeMasker(values.values())
      const secrets = Object.fromEntries([...values].map(([key, value]) => [key, Redacted.value(value)]))
      // While the stage holds the values, whatever it logs or writes to a span is masked too.
      const outcome = yield* runStage(
        definition,
        render((key) => Redacted.value(values.get(key)!)),
        vars,
        annotations,
        secrets
      ).pipe(
        withMasking(mask, { name: "Executor.runStage", attributes: { stageType: task.stageType, taskId: task.taskId } }),
        withConsoleMasking(mask)
      )
      // Metrics are numbers and signal names: nothing in them to mask.
      const measured = outcome.metrics === undefined ? {} : { metrics: outcome.metrics }
      switch (outcome.status) {
        case "succeeded":
          return { ...succeeded(maskValue(outcome.output, mask) as Schema.Json), ...measured }
        case "failed":
          return {
            status: "failed",
            error: new TaskFailure({
              ...outcome.error,
              message: mask(outcome.error.message),
              // Fields are the error's own data, where a secret may stand as well as in its message.
              ...(outcome.error.fields === undefined
                ? {}
                : { fields: maskValue(outcome.error.fields, mask) as Readonly<Record<string, Schema.Json>> })
            }),
            ...measured
          } as const
        case "waiting":
          return { status: "waiting", waiting: maskWaiting(outcome.waiting, mask), ...measured } as const
      }
    })

  const publishResult = (message: JobMessage, task: TaskRun, outcome: Outcome, durationMs: number, subject: string) => {
    const fields = {
      taskId: task.taskId,
      runId: task.runId,
      stage: task.stage,
      stageType: task.stageType,
      attempt: task.attempt,
      executorId: settings.executorId,
      pool: settings.pool,
      durationMs
    }
    const full = encodeTaskResult(fields, outcome)
    if (full.data.length > settings.blobThreshold && outcome.status === "succeeded") {
      // Big outputs leave as blob references; the result then carries only those.
      return externalize(outcome.output, settings.blobThreshold).pipe(
        Effect.provideService(BlobStore, blobs),
        // Counted here: the scheduler does not read what went to the blob store.
        Effect.map((output): Outcome => ({
          ...outcome,
          output: output as Schema.Json,
          count: countOutput(countExpr(task), outcome.output)
        })),
        Effect.catch((error) =>
          Effect.succeed<Outcome>({
            ...failedWith(
              StageFailure.fromError(
                task.stageType,
                new OutputBlobError({ stage: task.stage, stageType: task.stageType, reason: error.message })
              )
            ),
            ...(outcome.metrics === undefined ? {} : { metrics: outcome.metrics })
          })
        ),
        Effect.flatMap((stored) => publishEncoded(message, task, stored, fields, encodeTaskResult(fields, stored), subject))
      )
    }
    return publishEncoded(message, task, outcome, fields, full, subject)
  }

  /** The `count` metadata of the task's stage type (`none` for a type this executor does not know). */
  const countExpr = (task: TaskRun): string => {
    const definition = catalog.get(task.stageType)
    return definition._tag === "Some" ? definition.value.metadata.count : "none"
  }

  const publishEncoded = (
    message: JobMessage,
    task: TaskRun,
    outcome: Outcome,
    fields: Parameters<typeof encodeTaskResult>[0],
    full: ReturnType<typeof encodeTaskResult>,
    subject: string
  ) => {
    // The bus would refuse it on every attempt: the stage fails once, saying why, instead.
    const encoded =
      full.data.length <= settings.maxResultBytes
        ? full
        : encodeTaskResult(fields, {
            ...failedWith(
              StageFailure.fromError(
                task.stageType,
                new ResultTooLargeError({ stageType: task.stageType, bytes: full.data.length, limit: settings.maxResultBytes })
              )
            ),
            ...(outcome.metrics === undefined ? {} : { metrics: outcome.metrics })
          })
    const msgId = `${task.taskId}:${task.attempt}`
    // The scheduler's apply continues the trace from this publish's own span.
    const publish = Effect.flatMap(traceHeaders, (trace) =>
      bus.enqueue(subject, encoded.data, { msgId, headers: { ...encoded.headers, ...trace } })
    )
    return publish.pipe(
      Effect.catch((error: BusError) =>
        error.isRetryable
          ? publish.pipe(
              Effect.delay(firstRepublishDelay),
              Effect.retry({ while: (error) => error.isRetryable, schedule: republishSchedule, times: republishTimes })
            )
          : Effect.fail(error)
      ),
      Effect.withSpan(
        `send ${resultSubjectFamily}`,
        { kind: "producer", attributes: producerAttributes(subject, msgId, outcome.status) },
        noStackTrace
      )
    )
  }

  const runTask = (message: JobMessage, task: TaskRun, subject: string): Effect.Effect<AckDecision> =>
    Effect.withFiber((fiber) => {
      // Whatever logs while the task runs says which task it was.
      const annotations: LogAnnotations = { taskId: task.taskId, runId: task.runId, stageType: task.stageType, attempt: task.attempt }
      if (task.runId !== "" && running.isCancelled(task.runId)) {
        return Effect.logInfo("acking a task of a cancelled run without running it").pipe(Effect.annotateLogs(annotations), Effect.as(ack))
      }
      const lease = leases.track(message, annotations)
      // A cancel notice of the run interrupts this fiber and acks the message itself.
      const tracked = task.runId === "" ? undefined : running.track({ runId: task.runId, taskId: task.taskId, message, fiber })
      const startedAt = clock.currentTimeMillisUnsafe()
      const prepared = outcomeOf(task, annotations)
      const published = prepared.pipe(
        Effect.flatMap((outcome) => {
          const durationMs = clock.currentTimeMillisUnsafe() - startedAt
          const measured = { stageType: task.stageType, pool: settings.pool, durationMs, metrics: outcome.metrics }
          return recordTask({ ...measured, outcome: outcome.status }).pipe(
            Effect.andThen(outcome.status === "waiting" ? gateEvent(outcome.waiting) : Effect.void),
            Effect.andThen(publishResult(message, task, outcome, durationMs, subject))
          )
        }),
        Effect.onInterrupt(() =>
          recordTask({
            stageType: task.stageType,
            pool: settings.pool,
            outcome: "cancelled",
            durationMs: clock.currentTimeMillisUnsafe() - startedAt,
            metrics: undefined
          })
        )
      )
      return Effect.onExitPrimitive(published, () => {
        leases.untrack(lease)
        if (tracked !== undefined) running.untrack(tracked)
        return undefined
      }).pipe(
        Effect.matchEffect({
          onSuccess: () => Effect.succeed(ack),
          onFailure: (error) =>
            Effect.logError("could not publish a task result; the task will run again", {
              taskId: task.taskId,
              attempt: task.attempt,
              subject,
              error: error.message
            }).pipe(Effect.annotateLogs(annotations), Effect.as(nak(republishDelay)))
        })
      )
    })

  const handleDecoded = (message: JobMessage, decoded: TaskRun | Codec.MalformedMessageError): Effect.Effect<AckDecision> => {
    if (decoded instanceof Codec.MalformedMessageError) {
      return Effect.logWarning("terminating a malformed task message", {
        subject: message.subject,
        seq: message.seq,
        path: decoded.path,
        reason: decoded.message
      }).pipe(Effect.as(term(decoded.toString())))
    }
    const task = decoded
    const subject = task.replyTo ?? (task.runId === "" ? undefined : names.taskResult(task.runId))
    if (subject === undefined) {
      const error = new Codec.MalformedMessageError({
        subject: message.subject,
        path: "replyTo",
        message: "TaskRun: a task without a runId must name a replyTo subject"
      })
      return Effect.logWarning("terminating a task that has nowhere to send its result", { seq: message.seq, taskId: task.taskId }).pipe(
        Effect.as(term(error.toString()))
      )
    }
    return runTask(message, task, subject)
  }

  /** Handles one message; never fails, and returns what to do with the message. */
  return (message: JobMessage): Effect.Effect<AckDecision> =>
    Effect.suspend(() => {
      // Decoding is synchronous, so the task's span can carry what the task is.
      const decoded = decodeTask(message)
      const task = Exit.isSuccess(decoded) ? decoded.value : undefined
      // The task's span continues the trace of whoever sent it.
      const parent = remoteSpan(message.headers)
      return decoded.pipe(
        Effect.matchEffect({
          onSuccess: (task) => handleDecoded(message, task),
          onFailure: (error) => handleDecoded(message, error)
        }),
        message.deliveryCount > 1 ? Effect.tap(() => recordRedelivery(settings.pool)) : identity,
        Effect.withSpan(
          `process ${message.subject}`,
          {
            kind: "consumer",
            ...(parent._tag === "Some" ? { parent: parent.value } : {}),
            attributes: {
              "messaging.system": "nats",
              "messaging.operation.type": "process",
              "messaging.destination.name": message.subject,
              "messaging.consumer.group.name": names.consumers.pool(settings.pool),
              "messaging.nats.message.delivery_count": message.deliveryCount,
              "messaging.nats.stream.sequence": message.seq,
              "switchyard.pool": settings.pool,
              ...(task === undefined ? {} : { "messaging.message.id": `${task.taskId}:${task.attempt}`, ...stageAttributes(task) })
            }
          },
          noStackTrace
        )
      )
    })
}
