/**
 * The client for services that start runs and tasks over the bus: submit a
 * pipeline and follow its events, watch every run's events, read a run's
 * record, cancel a run, run one stage type as a standalone task and wait for
 * its result, and set ledger fields that gates wait on. It needs a `Bus`: the
 * CLI runs it over either adapter, and the SDK's `connect` is its Promise
 * face over NATS. Every message carries the caller's trace context.
 */
import { randomUUID } from "node:crypto"
import { Cause, Context, Duration, Effect, Exit, Layer, Option, Result, Schema, SchemaIssue, Scope, Stream } from "effect"
import { WireType } from "@switchyard/schemas/Catalog"
import type { Pipeline } from "@switchyard/schemas/Pipeline"
import { LedgerUpdate, LedgerUpdateReply, PipelineIssue, RunCancel, RunCancelReply, RunEvent, RunSubmit } from "@switchyard/schemas/Run"
import { RunRecord } from "@switchyard/schemas/RunRecord"
import { TaskResult, TaskRun } from "@switchyard/schemas/Task"
import { Bus } from "./Bus.ts"
import type { Message } from "./Bus.ts"
import type { Headers } from "@switchyard/schemas/Codec"
import { MaxPayloadCode, RequestTimeoutError } from "./BusError.ts"
import type { BusError } from "./BusError.ts"
import { decode, decodeExit, describeIssue, encode } from "@switchyard/schemas/Codec"
import { Subjects } from "@switchyard/schemas/Subjects"
import { LedgerUpdateEndpoint, RunCancelEndpoint, RunSubmitEndpoint } from "@switchyard/schemas/Endpoints"
import * as Endpoints from "./Endpoints.ts"
import { PipelineInvalidError } from "@switchyard/schemas/PipelineError"
import { traceHeaders } from "@switchyard/schemas/TraceContext"
import { authoredTemplates } from "@switchyard/schemas/InputTemplate"
import { valueProblems } from "@switchyard/schemas/InputLimits"
import { joinPath } from "@switchyard/schemas/YamlDocument"

/** A standalone task's templates: its inputs' vars and secrets references. */
const templatesOf = (inputs: unknown) => {
  const templates = authoredTemplates(inputs)
  return templates.length === 0 ? {} : { templates }
}

export { PipelineInvalidError }

/** No result for a standalone task arrived in time. */
export class TaskResultTimeoutError extends Schema.TaggedError<TaskResultTimeoutError>()("TaskResultTimeoutError", {
  taskId: Schema.String,
  pool: Schema.String,
  stageType: Schema.String,
  timeoutMs: Schema.Number
}) {
  /** The task may still run; sending it again runs it again. */
  get isRetryable(): boolean {
    return false
  }
  override get message(): string {
    return `no result for task ${this.taskId} (${this.stageType} on pool ${this.pool}) within ${this.timeoutMs} ms`
  }
}

/** A run record in the run-state bucket does not decode. */
export class RunRecordUnreadableError extends Schema.TaggedError<RunRecordUnreadableError>()("RunRecordUnreadableError", {
  runId: Schema.String,
  message: Schema.String
}) {}

const decodeRecord = Schema.decodeUnknownEffect(Schema.fromJsonString(RunRecord))
const decodeEvent = decodeExit(RunEvent, WireType.RunEvent)

/** What `submitRun` takes. */
export interface SubmitRunOptions {
  /** The pipeline: YAML (or JSON) text, or a pipeline object (sent as JSON text). */
  readonly pipeline: string | typeof Pipeline.Encoded
  /** Where the pipeline came from, named in its issues. @default "pipeline.yaml" for text, "pipeline.json" for an object */
  readonly file?: string
  /** Run inputs, over the pipeline's defaults. @default {} */
  readonly inputs?: Readonly<Record<string, Schema.Json>>
  /** Caller-chosen run id; submitting the same id twice starts one run. @default a fresh UUID */
  readonly runId?: string
  /** Values of `{{ vars.KEY }}` for this run, over the pipeline's `vars:` (what `switchyard run --var` sends). */
  readonly vars?: Readonly<Record<string, string>>
  /** How long to wait for the scheduler's answer. @default "30 seconds" */
  readonly timeout?: Duration.Input
}

/** A started run: its id and its events, ending with `run.finished`. */
export interface SubmittedRun<E> {
  readonly runId: string
  readonly events: E
}

/** What `runTask` takes. */
export interface RunTaskOptions {
  readonly stageType: string
  /** The pool serving the stage type. */
  readonly pool: string
  /**
   * The stage's inputs, as the caller writes them: `{{ vars.KEY }}` and `{{ secrets.KEY }}` in them
   * are rendered by the executor (`\\{{` keeps one literal).
   */
  readonly inputs: Schema.Json
  /** The stage's timeout in milliseconds, over the stage type's own. */
  readonly timeoutMs?: number
  /** How long to wait for the result. @default timeoutMs + 30 s, at least 2 minutes */
  readonly waitMs?: number
}

/** What `updateLedger` takes besides the run and the fields. */
export interface UpdateLedgerOptions {
  /** Who sets the fields, for the run's audit trail. */
  readonly source?: string
  /** How long to wait for the scheduler's answer. @default "30 seconds" */
  readonly timeout?: Duration.Input
}

/** Errors of a request to the scheduler: the bus's, a malformed request, a scheduler that could not save. */
export type RequestError = Endpoints.CallError<typeof RunCancelEndpoint>

const defaultRequestTimeout = Duration.seconds(30)
/** How long one `run.submit` attempt waits before it is sent again. */
const submitAttemptMs = 5_000
const minimumWaitMs = 120_000
const waitGraceMs = 30_000

const freshId = Effect.sync(() => randomUUID())

/** The Effect client. */
export class SwitchyardClient extends Context.Service<
  SwitchyardClient,
  {
    /**
     * Submits a pipeline. Subscribes to the run's events before the submit is
     * sent, so none is missed; the subscription lives in the caller's scope.
     * A pipeline with problems fails with `PipelineInvalidError` and its issues.
     */
    readonly submitRun: (
      options: SubmitRunOptions
    ) => Effect.Effect<SubmittedRun<Stream.Stream<RunEvent>>, RequestError | PipelineInvalidError, Scope.Scope>
    /** Every event of every run from now on (not ending at `run.finished`); the subscription lives in the caller's scope. */
    readonly watchRuns: () => Effect.Effect<Stream.Stream<RunEvent>, BusError, Scope.Scope>
    /** A run's record as the scheduler last saved it: status, state, ledger and every stage. */
    readonly getRun: (runId: string) => Effect.Effect<Option.Option<RunRecord>, BusError | RunRecordUnreadableError>
    /** Asks the scheduler to cancel a run. */
    readonly cancelRun: (runId: string, reason?: string) => Effect.Effect<RunCancelReply, RequestError>
    /** Sends one standalone task to a pool and waits for its result (succeeded or failed). */
    readonly runTask: (options: RunTaskOptions) => Effect.Effect<TaskResult, BusError | TaskResultTimeoutError>
    /**
     * Sets ledger fields of a run and waits for the scheduler's answer; gates
     * waiting on them run again. A finished run keeps its ledger as it ended:
     * the reply says `applied: false` and its status.
     */
    readonly updateLedger: (
      runId: string,
      fields: Readonly<Record<string, Schema.Json>>,
      options?: UpdateLedgerOptions
    ) => Effect.Effect<LedgerUpdateReply, RequestError>
  }
>()("switchyard/bus/SwitchyardClient") {
  static readonly layer: Layer.Layer<SwitchyardClient, never, Bus> = Layer.effect(
    SwitchyardClient,
    Effect.gen(function* () {
      const bus = yield* Bus
      const names = yield* Subjects

      const headersWith = (typeHeaders: Headers) => Effect.map(traceHeaders, (trace): Headers => ({ ...typeHeaders, ...trace }))

      // A malformed event is logged and skipped rather than ending the caller's stream.
      const decodeEvents = (messages: Stream.Stream<Message>): Stream.Stream<RunEvent> =>
        eventsOf(messages).pipe(Stream.takeUntil((event) => event.kind === "run.finished"))

      // One stream step per event: decoding is synchronous, and only a rejected event needs an effect (its log line).
      const eventsOf = (messages: Stream.Stream<Message>): Stream.Stream<RunEvent> =>
        messages.pipe(
          Stream.filterMapEffect((message) => {
            const decoded = decodeEvent(message)
            return Exit.isSuccess(decoded)
              ? Effect.succeed(Result.succeed(decoded.value))
              : Effect.as(Effect.logWarning(`skipped ${Cause.squash(decoded.cause)}`), Result.failVoid)
          })
        )

      const watchRuns = () => Effect.map(bus.subscribe(names.runEventAll), eventsOf)

      // The runs bucket is opened once; an opening that failed (the server away) is tried again by the next read.
      const runs = yield* Effect.cachedWithTTL(bus.kv(names.buckets.runs), (exit) =>
        Exit.isSuccess(exit) ? Duration.infinity : Duration.zero
      )
      const getRun = Effect.fn("SwitchyardClient.getRun")(function* (runId: string) {
        const entry = yield* Effect.flatMap(runs, (kv) => kv.get(runId))
        if (Option.isNone(entry) || entry.value.operation !== "PUT") return Option.none<RunRecord>()
        const record = yield* decodeRecord(new TextDecoder().decode(entry.value.value)).pipe(
          Effect.mapError((error) => new RunRecordUnreadableError({ runId, message: error.message }))
        )
        return Option.some(record)
      })

      const submitRun = Effect.fn("SwitchyardClient.submitRun")(function* (options: SubmitRunOptions) {
        const runId = options.runId ?? (yield* freshId)
        const isText = typeof options.pipeline === "string"
        const file = options.file ?? (isText ? "pipeline.yaml" : "pipeline.json")
        const text = typeof options.pipeline === "string" ? options.pipeline : JSON.stringify(options.pipeline, null, 2)
        yield* Effect.annotateCurrentSpan({ "switchyard.run_id": runId })
        // Subscribe first: the scheduler may publish run.started before it replies. The submit that starts
        // the run goes out after the subscription on the same connection (and, in a cluster, over the same
        // route to the scheduler's server as the interest), so no confirming round trip.
        const subscription = yield* bus.subscribe(names.runEvent(runId), { confirm: false })
        // What the caller passes besides the pipeline (a var name, an input that is not JSON) is
        // checked here, as the scheduler would check it, and refused the same way.
        const request = yield* Effect.try({
          try: () =>
            new RunSubmit({
              version: 1,
              file,
              text,
              inputs: { ...options.inputs },
              runId,
              ...(options.vars === undefined ? {} : { vars: { ...options.vars } })
            }),
          catch: (error) => {
            // A schema class's constructor throws an Error whose cause is the issue.
            const issue = error instanceof Error && SchemaIssue.isIssue(error.cause) ? error.cause : undefined
            const { path, message } = issue === undefined ? { path: "", message: String(error) } : describeIssue(issue)
            return new PipelineInvalidError({ file, issues: [new PipelineIssue({ file, line: 0, column: 0, path, message })] })
          }
        })
        const hostile = valueProblems(request.inputs)
        if (hostile.length > 0) {
          return yield* new PipelineInvalidError({
            file,
            issues: hostile.map(
              (problem) =>
                new PipelineIssue({ file, line: 0, column: 0, path: joinPath(["inputs", ...problem.path]), message: problem.message })
            )
          })
        }
        // A scheduler may start the run and die before it answers: the submit is sent again (the
        // run id makes it idempotent) until the whole timeout is spent, and a replacement answers.
        const totalMs = Duration.toMillis(Duration.fromInputUnsafe(options.timeout ?? defaultRequestTimeout))
        const attemptMs = Math.min(submitAttemptMs, totalMs / 3)
        const reply = yield* Endpoints.call(bus, names, RunSubmitEndpoint, request, { timeout: Duration.millis(attemptMs) }).pipe(
          Effect.retry({
            while: (error) => error._tag === "RequestTimeoutError",
            times: Math.max(0, Math.ceil(totalMs / attemptMs) - 1)
          }),
          // The caller asked for one timeout: that is the one it hears about.
          Effect.catchTag("RequestTimeoutError", (error) =>
            Effect.fail(new RequestTimeoutError({ subject: error.subject, timeoutMs: totalMs }))
          ),
          // Too large to send: the pipeline and its inputs are what make it so.
          Effect.catchTag("BusError", (error): Effect.Effect<never, BusError | PipelineInvalidError> =>
            error.code === MaxPayloadCode
              ? Effect.fail(
                  new PipelineInvalidError({
                    file,
                    issues: [
                      new PipelineIssue({
                        file,
                        line: 1,
                        column: 1,
                        path: "",
                        message: `expected a pipeline and inputs that fit in one message: ${error.message}`
                      })
                    ]
                  })
                )
              : Effect.fail(error)
          )
        )
        if (reply.issues.length > 0) return yield* new PipelineInvalidError({ file, issues: reply.issues })
        const started = reply.runId ?? runId
        // A scheduler that chose another id is followed there, from now on.
        const events = started === runId ? subscription : yield* bus.subscribe(names.runEvent(started))
        return { runId: started, events: decodeEvents(events) }
      })

      const cancelRun = Effect.fn("SwitchyardClient.cancelRun")((runId: string, reason?: string) =>
        Endpoints.call(bus, names, RunCancelEndpoint, new RunCancel({ version: 1, runId, ...(reason === undefined ? {} : { reason }) }), {
          timeout: defaultRequestTimeout
        })
      )

      const runTask = Effect.fn("SwitchyardClient.runTask")(function* (options: RunTaskOptions) {
        const taskId = yield* freshId
        const replyTo = names.taskResult(`adhoc-${taskId}`)
        const waitMs = options.waitMs ?? Math.max(minimumWaitMs, (options.timeoutMs ?? 0) + waitGraceMs)
        yield* Effect.annotateCurrentSpan({ "switchyard.task_id": taskId, "switchyard.pool": options.pool })
        return yield* Effect.scoped(
          Effect.gen(function* () {
            // A core subscription also sees results the executor publishes into the results stream.
            const results = yield* bus.subscribe(replyTo)
            const task = new TaskRun({
              version: 1,
              taskId,
              runId: "",
              stage: options.stageType,
              stageType: options.stageType,
              attempt: 1,
              inputs: options.inputs,
              // The caller wrote these inputs: their vars and secrets references are its templates.
              ...templatesOf(options.inputs),
              ...(options.timeoutMs === undefined ? {} : { timeoutMs: options.timeoutMs }),
              replyTo
            })
            const message = encode(TaskRun, WireType.TaskRun, task)
            yield* bus.enqueue(names.taskRun(options.pool), message.data, {
              msgId: `${taskId}:${task.attempt}`,
              headers: yield* headersWith(message.headers)
            })
            const first = yield* results.pipe(
              Stream.mapEffect((result) =>
                decode(
                  TaskResult,
                  WireType.TaskResult
                )(result).pipe(
                  Effect.map(Option.some),
                  Effect.catchTag("MalformedMessageError", (error) =>
                    Effect.logWarning(`skipped ${error.toString()}`).pipe(Effect.as(Option.none<TaskResult>()))
                  )
                )
              ),
              Stream.filter((result) => Option.isSome(result) && result.value.taskId === taskId),
              Stream.runHead
            )
            return Option.flatten(first)
          })
        ).pipe(
          Effect.timeoutOrElse({
            duration: Duration.millis(waitMs),
            orElse: () => Effect.succeed(Option.none<TaskResult>())
          }),
          Effect.flatMap(
            Option.match({
              onNone: () =>
                Effect.fail(new TaskResultTimeoutError({ taskId, pool: options.pool, stageType: options.stageType, timeoutMs: waitMs })),
              onSome: Effect.succeed
            })
          )
        )
      })

      const updateLedger = Effect.fn("SwitchyardClient.updateLedger")(function* (
        runId: string,
        fields: Readonly<Record<string, Schema.Json>>,
        options: UpdateLedgerOptions = {}
      ) {
        const update = new LedgerUpdate({
          version: 1,
          runId,
          fields: { ...fields },
          ...(options.source === undefined ? {} : { source: options.source })
        })
        return yield* Endpoints.call(bus, names, LedgerUpdateEndpoint, update, { timeout: options.timeout ?? defaultRequestTimeout })
      })

      return SwitchyardClient.of({ submitRun, watchRuns, getRun, cancelRun, runTask, updateLedger })
    })
  )
}
