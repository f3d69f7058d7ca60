/**
 * The scheduler owns runs. It validates a submitted pipeline against the
 * registry, keeps live runs in its run table (one actor per run, transitions
 * serial per run and group-committed to the run-state bucket), applies task
 * results from the results work queue exactly once, arms retry timers, fails
 * stages whose tasks were dead-lettered or could not be sent, reports stages
 * whose pool has no live executor (`internal/poolWatch.ts`), tells executors
 * to stop the tasks of a cancelled run (`task.cancel.<runId>`), and answers
 * `run.submit`, `run.cancel` and `ledger.update.<runId>`. Every transition is
 * saved before its events, dispatches and acks happen, so a restarted
 * scheduler resumes every unfinished run from the bucket.
 *
 * `for_each` stages (`internal/fanOut.ts`): the scheduler loads a stage's list
 * and holds it while the stage runs, stores each finished task's output in the
 * item results bucket before applying its result, and combines the outputs
 * once every task finished. A task whose message would pass the blob threshold
 * carries its big inputs as blob references, and state slots that pass it are
 * stored as blobs before the record is saved.
 */
import { Cause, Clock, Context, Duration, Effect, Layer, Option, Random, Result, Schedule, Schema, Scope, Stream } from "effect"
import { Bus } from "@switchyard/bus/Bus"
import { BlobStore } from "@switchyard/bus/BlobStore"
import type { JobMessage } from "@switchyard/bus/Bus"
import { BusError } from "@switchyard/bus/BusError"
import type { KvConflictError } from "@switchyard/bus/BusError"
import { decode, encodePlain } from "@switchyard/schemas/Codec"
import * as Infrastructure from "@switchyard/bus/Infrastructure"
import * as Readiness from "@switchyard/bus/Readiness"
import { undeliverableTasksConsumer } from "@switchyard/bus/Streams"
import { Subjects } from "@switchyard/schemas/Subjects"
import * as Endpoints from "@switchyard/bus/Endpoints"
import { type AnyEndpoint, ServiceUnavailableError } from "@switchyard/schemas/Endpoint"
import { LedgerUpdateEndpoint, RunCancelEndpoint, RunSubmitEndpoint } from "@switchyard/schemas/Endpoints"
import { RegistryClient } from "../registry/RegistryClient.ts"
import { TraceparentHeader, traceHeaders, withParentFrom } from "@switchyard/schemas/TraceContext"
import { WireType } from "@switchyard/schemas/Catalog"
import { LedgerUpdateReply, PipelineIssue, RunCancel, RunCancelReply, RunSubmit, RunSubmitReply } from "@switchyard/schemas/Run"
import type { RunRecord } from "@switchyard/schemas/RunRecord"
import { TaskFailed, TaskFailure, TaskHeaders, taskHeaders, TaskResult, TaskRun, TaskSucceeded } from "@switchyard/schemas/Task"
import { isBlobRef } from "@switchyard/schemas/Blob"
import { makeFanOut } from "./internal/fanOut.ts"
import { itemIndexOf } from "./internal/itemTasks.ts"
import { Lru } from "@switchyard/bus/Lru"
import { makePoolWatch } from "./internal/poolWatch.ts"
import { schedulerInfrastructure } from "./internal/ownInfrastructure.ts"
import { stopTasks } from "./internal/stopTasks.ts"
import { recordApply, recordDeadLetter, recordHeld, recordRunEvents } from "./internal/instruments.ts"
import { oversizedRecord } from "./internal/recordSize.ts"
import { PipelineInvalidError } from "@switchyard/schemas/PipelineError"
import { checkAgainstRegistry, checkGraph, checkTemplates, parsePipeline } from "./PipelineLoader.ts"
import type { ParsedPipeline } from "./PipelineLoader.ts"
import * as RunActor from "./RunActor.ts"
import type { EventMessage, ItemLookup, ItemSource, TaskMessage, Transition } from "./RunActor.ts"
import { RunStore } from "./RunStore.ts"
import { makeRunTable } from "./RunTable.ts"
import { SchedulerConfig } from "./SchedulerConfig.ts"
import { makeStageLookup } from "./StageLookup.ts"

/** What the bus publishes on a dead-letter subject (see `DeadLetter` in Bus.ts). */
const DeadLetterRecord = Schema.Struct({
  subject: Schema.String,
  deliveries: Schema.Number,
  reason: Schema.String,
  data: Schema.optionalKey(Schema.String),
  dataOmitted: Schema.optionalKey(Schema.String),
  headers: Schema.optionalKey(Schema.Record(Schema.String, Schema.String))
})

/** The task a dead letter names by its headers (its payload may have been left out). */
const taskNamedBy = (headers: Readonly<Record<string, string>> | undefined) => {
  const runId = headers?.[TaskHeaders.runId]
  const stage = headers?.[TaskHeaders.stage]
  const taskId = headers?.[TaskHeaders.taskId]
  const attempt = Number(headers?.[TaskHeaders.attempt])
  return runId === undefined || stage === undefined || taskId === undefined || !Number.isInteger(attempt)
    ? undefined
    : { runId, stage, taskId, attempt }
}

const decodeResult = decode(TaskResult, WireType.TaskResult)
const decodeTask = decode(TaskRun, WireType.TaskRun)
const decodeDeadLetter = decode(DeadLetterRecord, "DeadLetter")

/** A transition's events that could not be published are tried again a few times at once (50 ms, doubling), then left to the reconciler. */
const eventRetry = { schedule: Schedule.exponential("50 millis"), times: 4 } as const

/** Hot-path spans are created in one place each; a stack trace would add nothing. */
const noStackTrace = { captureStackTrace: false } as const

/**
 * A task that could not be sent is sent again in the background (after 50 ms, doubling up to 5
 * seconds apart) for as long as `dispatchRetryWindow` allows and its stage still waits for it;
 * the run's other transitions do not wait behind it. The retry machinery is built only once a
 * first attempt failed.
 */
const firstRedispatchDelay = Duration.millis(50)
const redispatchSchedule = Schedule.min([Schedule.exponential(Duration.millis(50)), Schedule.spaced(Duration.seconds(5))])

/** One attempt of one task of a run, as the run's record names it. */
interface OwedTask {
  readonly runId: string
  readonly stage: string
  readonly taskId: string
  readonly attempt: number
}

/** The scheduler service. */
export class Scheduler extends Context.Service<
  Scheduler,
  {
    /** Validates and starts a run; invalid pipelines come back as issues, not failures. */
    readonly submit: (request: RunSubmit) => Effect.Effect<RunSubmitReply, BusError | KvConflictError>
    readonly cancel: (request: RunCancel) => Effect.Effect<RunCancelReply, BusError | KvConflictError>
    /** The run's current record (in memory while running, else from the bucket). */
    readonly get: (runId: string) => Effect.Effect<Option.Option<RunRecord>, BusError>
    /** `for_each` item lists held in memory now: one per running mapped stage whose items are loaded. */
    readonly itemListsHeld: Effect.Effect<number>
    /** False while the scheduler puts back streams, consumers or buckets it found gone. */
    readonly ready: Effect.Effect<boolean>
  }
>()("switchyard/scheduler/Scheduler") {
  static readonly layer: Layer.Layer<Scheduler, BusError | KvConflictError, Bus | BlobStore | RunStore | RegistryClient | SchedulerConfig> =
    Layer.effect(
      Scheduler,
      Effect.gen(function* () {
        const bus = yield* Bus
        const names = yield* Subjects
        const store = yield* RunStore
        const registry = yield* RegistryClient
        const config = yield* SchedulerConfig
        const blobs = yield* BlobStore
        const scope = yield* Scope.Scope
        const fanOut = makeFanOut({ items: yield* bus.kv(names.buckets.items), blobs, threshold: config.blobThreshold })
        // The lists of running `for_each` stages, by run and stage; a resumed stage loads its list again.
        const loadedItems = new Map<string, ItemSource>()
        const itemsKey = (runId: string, stage: string) => `${runId}\u0000${stage}`
        const items: ItemLookup = (runId, stage) => loadedItems.get(itemsKey(runId, stage))
        /** Drops the lists of a run that ended: a mapped stage that failed, was cancelled or was cut short never combines. */
        const forgetItems = (doc: RunRecord) => {
          for (const stage of doc.pipeline.stages) if (stage.for_each !== undefined) loadedItems.delete(itemsKey(doc.runId, stage.name))
        }
        const lookup = makeStageLookup(registry, config.stageCacheTtl)
        const parsedPipelines = new Lru<string, { readonly parsed: ParsedPipeline; readonly issues: ReadonlyArray<PipelineIssue> }>(256)

        // Its streams, consumers and buckets, put back whenever they are found gone (see ownInfrastructure.ts).
        // After a recovery (a reconnect: the server may have lost messages or come back empty; or
        // something found gone) every live run is reconciled, as a restart would: tasks in flight sent
        // again (a re-send within the duplicate window is stored once), watchers told where each stage
        // is. Set once the run table exists.
        let afterRecovery: Effect.Effect<void> = Effect.void
        const infrastructure = yield* Infrastructure.make({
          service: "scheduler",
          ensure: Infrastructure.declare(bus, schedulerInfrastructure(names, config)),
          recovered: () => Effect.suspend(() => afterRecovery)
        })

        // Every hop of a run continues the trace its submit started (kept in the record).
        const runTrace = (doc: RunRecord): Record<string, string> =>
          doc.traceparent === undefined ? {} : { [TraceparentHeader]: doc.traceparent }

        /** The task's message; past the blob threshold, each big input goes as a blob reference. */
        const taskMessage = (task: TaskMessage, subject: string) => {
          const message = encodePlain(WireType.TaskRun, task)
          if (message.data.length <= config.blobThreshold) return Effect.succeed(message)
          const inputs = typeof task.inputs === "object" && task.inputs !== null ? Object.entries(task.inputs) : []
          return Effect.forEach(inputs, ([key, value]) => Effect.map(fanOut.small(value), (small) => [key, small] as const)).pipe(
            Effect.map((smaller) => encodePlain(WireType.TaskRun, { ...task, inputs: Object.fromEntries(smaller) })),
            Effect.mapError(
              (problem) =>
                new BusError({ operation: "blob.put", subject, message: `storing the inputs of task ${task.taskId}: ${problem.message}` })
            )
          )
        }

        const dispatch = (doc: RunRecord, task: TaskMessage) => {
          const pool = doc.stages[task.stage]!.pool
          return Effect.all([taskMessage(task, names.taskRun(pool)), traceHeaders]).pipe(
            Effect.flatMap(([message, trace]) =>
              bus.enqueue(names.taskRun(pool), message.data, {
                msgId: `${task.taskId}:${task.attempt}`,
                headers: { ...message.headers, ...trace, ...taskHeaders(task) }
              })
            ),
            // One span per attempt of a stage: the PRODUCER of its task message.
            Effect.withSpan(
              `send ${names.taskRun(pool)}`,
              {
                kind: "producer",
                attributes: {
                  "messaging.system": "nats",
                  "messaging.operation.type": "send",
                  "messaging.destination.name": names.taskRun(pool),
                  "messaging.message.id": `${task.taskId}:${task.attempt}`,
                  "switchyard.run.id": task.runId,
                  "switchyard.stage": task.stage,
                  "switchyard.stage.type": task.stageType,
                  "switchyard.task.id": task.taskId,
                  "switchyard.attempt": task.attempt,
                  "switchyard.pool": pool
                }
              },
              noStackTrace
            ),
            withParentFrom(runTrace(doc))
          )
        }

        const publishEvent = (doc: RunRecord, event: EventMessage) => {
          const message = encodePlain(WireType.RunEvent, event)
          return bus.publish(names.runEvent(event.runId), message.data, { headers: { ...message.headers, ...runTrace(doc) } })
        }

        /** Whether the run still waits for this attempt of this task. */
        const owed = (task: OwedTask): boolean => {
          const doc = Option.getOrUndefined(table.live(task.runId))
          return doc !== undefined && RunActor.owes(doc, task)
        }

        /**
         * Sends a task whose first send failed again until it leaves; when it cannot (the error is
         * not retryable, or the retry window passed) its stage fails, naming the pool and subject.
         */
        const redispatch = (doc: RunRecord, task: TaskMessage, first: BusError): Effect.Effect<void> =>
          Effect.gen(function* () {
            const pool = doc.stages[task.stage]!.pool
            const subject = names.taskRun(pool)
            let sends = 1
            const resend = dispatch(doc, task).pipe(
              Effect.tapError(() => Effect.sync(() => sends++)),
              Effect.retry({
                while: (error) => error.isRetryable && owed(task),
                schedule: redispatchSchedule.pipe(Schedule.upTo({ duration: config.dispatchRetryWindow }))
              }),
              Effect.delay(firstRedispatchDelay)
            )
            const retried = first.isRetryable && owed(task) ? yield* Effect.result(resend) : Result.fail(first)
            if (Result.isSuccess(retried) || !owed(task)) return
            const error = retried.failure
            yield* Effect.logError(
              `task ${task.taskId} attempt ${task.attempt} of run ${task.runId} could not be sent to pool ${pool} on ${subject}; failing its stage`,
              { error: error.message, code: error.code, sends }
            )
            const failed = new TaskFailed({
              version: 1,
              taskId: task.taskId,
              runId: task.runId,
              stage: task.stage,
              stageType: task.stageType,
              attempt: task.attempt,
              executorId: "",
              pool,
              status: "failed",
              error: new TaskFailure({
                tag: "TaskDispatchError",
                message: `could not send the task to pool "${pool}" on ${subject} (${sends} send${sends === 1 ? "" : "s"}): ${error.message}`,
                retryable: false
              }),
              durationMs: 0
            })
            yield* table.transact(task.runId, (current, now) => RunActor.onResult(current, failed, now, items))
          }).pipe(Effect.catchCause(owe(task.runId, `sending task ${task.taskId}`)))

        /**
         * Runs whose effects failed, with what failed first: the reconciler derives what each still
         * owes from its record and carries it out (`reconcileOwed`).
         */
        const owing = new Map<string, string>()
        const owe = (runId: string, what: string) => (cause: Cause.Cause<unknown>) =>
          Effect.suspend(() => {
            const known = owing.has(runId)
            if (!known) owing.set(runId, what)
            // Said once per run until it is reconciled; the cause at debug level.
            return known
              ? Effect.logDebug(`${what} of run ${runId} failed again`, cause)
              : Effect.logWarning(`${what} of run ${runId} failed; the run will be reconciled from its record`, Cause.squash(cause))
          })

        /**
         * A saved transition's effects: tasks out, events out (retried a few times at once), timers
         * armed, items loaded and combined. Each part goes ahead whatever became of the others; a
         * part that fails leaves the run to the reconciler.
         */
        const effects = (doc: RunRecord, transition: Transition): Effect.Effect<void> =>
          Effect.gen(function* () {
            yield* recordRunEvents(transition.record, transition.events)
            if (transition.dispatch.length > 0) {
              const since = yield* Clock.currentTimeMillis
              for (const task of transition.dispatch) {
                const { attempt, runId, stage, stageType, taskId } = task
                pools.watch({ runId, stage, taskId, attempt, stageType, pool: doc.stages[stage]!.pool, since })
              }
            }
            for (const task of transition.dispatch) {
              const sent = yield* Effect.result(dispatch(doc, task))
              // Forked: it may fail the stage, a transition that waits for this one's save to finish.
              if (sent._tag === "Failure") yield* Effect.forkIn(redispatch(doc, task, sent.failure), scope)
            }
            yield* Effect.forEach(transition.events, (event) => publishEvent(doc, event), { discard: true }).pipe(
              Effect.retry(eventRetry),
              Effect.catchCause(owe(doc.runId, "publishing the events"))
            )
            if (transition.record.status !== "running") forgetItems(transition.record)
            for (const timer of transition.timers) yield* armTimer(doc.runId, timer.stage, timer.at, timer.item)
            // Forked: each ends in a transition of its own, which waits for this one's save to finish.
            for (const stage of transition.prepare) yield* Effect.forkIn(prepareItems(doc.runId, stage), scope)
            for (const stage of transition.combine) yield* Effect.forkIn(combineItems(doc.runId, stage), scope)
          }).pipe(Effect.catchCause(owe(doc.runId, "the effects of a transition")))

        /**
         * Reconciles each run whose effects failed: a live run takes `RunActor.reconcile` (what a
         * restart would do, plus an event per started stage); a run that finished meanwhile sends
         * its `run.finished` again. A run whose reconciling fails stays owed for the next round.
         */
        const reconcileOwed = Effect.gen(function* () {
          if (owing.size === 0) return
          const runIds = [...owing.keys()]
          owing.clear()
          yield* Effect.forEach(
            runIds,
            (runId) =>
              Effect.gen(function* () {
                const reconciled = yield* table.transact(runId, (doc, now) => RunActor.reconcile(doc, now, items))
                if (!reconciled) {
                  const stored = yield* store.load(runId)
                  const finished = Option.isSome(stored) ? RunActor.finishedEvent(stored.value.doc) : undefined
                  if (finished !== undefined && Option.isSome(stored)) yield* publishEvent(stored.value.doc, finished)
                }
                yield* Effect.logInfo(`reconciled run ${runId}`)
              }).pipe(Effect.catchCause(owe(runId, "reconciling"))),
            { concurrency: 8, discard: true }
          )
        })
        afterRecovery = Effect.sync(() => {
          for (const runId of table.runIds()) if (!owing.has(runId)) owing.set(runId, "recovering the connection to the server")
        })
        yield* reconcileOwed.pipe(Effect.repeat(Schedule.spaced(config.reconcileInterval)), Effect.forkIn(scope))

        /**
         * A record past the blob threshold: its state slots past it are stored as blobs and the
         * record keeps references (in memory too, where a slot still holds what was stored).
         */
        const compact = (snapshot: RunRecord): Effect.Effect<RunRecord> =>
          Effect.gen(function* () {
            const state = { ...snapshot.state }
            let changed = false
            for (const [key, value] of Object.entries(snapshot.state)) {
              if (isBlobRef(value) || JSON.stringify(value).length <= config.blobThreshold) continue
              state[key] = yield* fanOut.small(value)
              changed = true
            }
            return changed ? { ...snapshot, state } : snapshot
          }).pipe(
            Effect.catchCause((cause) =>
              Effect.logWarning(`could not store the big state slots of run ${snapshot.runId} as blobs`, cause).pipe(Effect.as(snapshot))
            )
          )

        const table = makeRunTable({ store, effects, scope, compact, compactAbove: config.blobThreshold })

        // A task that waited `unschedulableAfter` for a pool with no live executor makes its run say so.
        const pools = makePoolWatch({
          after: config.unschedulableAfter,
          owed,
          resolve: registry.resolve,
          report: (task) => table.transact(task.runId, (doc, now) => RunActor.unschedulable(doc, task, now))
        })
        yield* pools.check.pipe(Effect.repeat(Schedule.spaced(pools.interval)), Effect.forkIn(scope))

        /** Loads a `for_each` stage's list and hands it to the stage; a list that cannot be had fails the stage. */
        const prepareItems = (runId: string, stage: string): Effect.Effect<void> =>
          Effect.gen(function* () {
            const doc = Option.getOrUndefined(table.live(runId))
            if (doc === undefined) return
            const loaded = yield* Effect.result(fanOut.load(doc, stage))
            if (loaded._tag === "Failure") {
              yield* table.transact(runId, (current, now) => RunActor.itemsUnavailable(current, stage, loaded.failure.message, now))
              return
            }
            loadedItems.set(itemsKey(runId, stage), loaded.success)
            const ready = yield* table.transact(runId, (current, now) =>
              RunActor.itemsReady(current, stage, loaded.success.length, now, items)
            )
            // A run that ended while its list loaded takes no items.
            if (!ready) loadedItems.delete(itemsKey(runId, stage))
          }).pipe(Effect.catchCause(owe(runId, `loading the items of stage ${stage}`)))

        /** Combines a finished `for_each` stage's outputs into its state slots; outputs that cannot be read fail the stage. */
        const combineItems = (runId: string, stage: string): Effect.Effect<void> =>
          Effect.gen(function* () {
            const doc = Option.getOrUndefined(table.live(runId))
            const tasks = doc?.stages[stage]?.items?.tasks
            if (doc === undefined || tasks === undefined) return
            const result = yield* Effect.result(fanOut.combine(doc, stage))
            if (result._tag === "Failure") {
              yield* table.transact(runId, (current, now) => RunActor.combineFailed(current, stage, result.failure.message, now))
              return
            }
            const { seen, slots } = result.success
            const applied = yield* table.transact(runId, (current, now) => RunActor.combined(current, stage, slots, seen, now))
            if (applied && Option.getOrUndefined(table.live(runId))?.stages[stage]?.status !== "dispatched") {
              loadedItems.delete(itemsKey(runId, stage))
              yield* fanOut.purge(runId, stage, tasks)
            }
          }).pipe(Effect.catchCause(owe(runId, `combining the outputs of stage ${stage}`)))

        const armTimer = (runId: string, stage: string, at: number, item?: number): Effect.Effect<void> =>
          Effect.gen(function* () {
            // Node's timers count from the event loop's cached time, so one can end a little before the clock
            // reads `at`; a waiting stage's deadline only passes once it does, so sleep again until then.
            for (let now = yield* Clock.currentTimeMillis; now < at; now = yield* Clock.currentTimeMillis) {
              yield* Effect.sleep(Duration.millis(at - now))
            }
            yield* table.transact(runId, (doc, time) => RunActor.onTimer(doc, stage, time, item, items))
          }).pipe(Effect.catchCause(owe(runId, `the timer of stage ${stage}`)), Effect.forkIn(scope), Effect.asVoid)

        /** Parses (once per distinct text) and validates a pipeline against the registry. */
        const validate = Effect.fnUntraced(function* (request: RunSubmit) {
          const key = `${request.file}\u0000${request.text}`
          let entry = parsedPipelines.get(key)
          if (entry === undefined) {
            const parsed = yield* parsePipeline({
              file: request.file,
              text: request.text,
              maxStages: config.maxStages,
              maxBytes: config.maxPipelineBytes
            })
            entry = { parsed, issues: checkGraph(parsed) }
            parsedPipelines.set(key, entry)
          }
          const { issues: graphIssues, parsed } = entry
          const resolved = yield* lookup([...new Set(parsed.pipeline.stages.map((stage) => stage.type))]).pipe(
            Effect.mapError(
              (error) =>
                new PipelineInvalidError({
                  file: request.file,
                  issues: [
                    new PipelineIssue({
                      file: request.file,
                      line: 1,
                      column: 1,
                      path: "",
                      message: `could not ask the registry about stage types: ${error.message}`
                    })
                  ]
                })
            )
          )
          const { issues, stages } = checkAgainstRegistry(parsed, resolved)
          const all = [...graphIssues, ...issues, ...checkTemplates(parsed, stages, request.inputs)]
          if (all.length > 0) return yield* new PipelineInvalidError({ file: request.file, issues: all })
          return { pipeline: parsed.pipeline, stages }
        })

        const submit = Effect.fn("Scheduler.submit")(function* (request: RunSubmit) {
          const validated = yield* Effect.result(validate(request))
          if (validated._tag === "Failure") return new RunSubmitReply({ version: 1, issues: validated.failure.issues })
          const { pipeline, stages } = validated.success
          const now = yield* Effect.clockWith((clock) => clock.currentTimeMillis)
          const runId = request.runId ?? `${now.toString(36)}-${(yield* Random.nextIntBetween(0, 2 ** 31)).toString(36)}`
          yield* Effect.annotateCurrentSpan({ "switchyard.run_id": runId })
          const trace = yield* traceHeaders
          const doc = RunActor.newRun({
            runId,
            file: request.file,
            pipeline,
            stages,
            inputs: request.inputs,
            ...(request.vars === undefined ? {} : { vars: request.vars }),
            now,
            ...(trace[TraceparentHeader] === undefined ? {} : { traceparent: trace[TraceparentHeader] })
          })
          const oversized = oversizedRecord({ file: request.file, json: JSON.stringify(doc), maxPayload: yield* bus.maxPayload })
          if (oversized !== undefined) return new RunSubmitReply({ version: 1, issues: [oversized] })
          const created = yield* Effect.result(table.create(doc, RunActor.start))
          // The id is taken: a repeated submit of the same run answers with it.
          if (created._tag === "Failure" && created.failure._tag !== "KvConflictError") return yield* created.failure
          return new RunSubmitReply({ version: 1, runId, issues: [] })
        })

        const get = (runId: string) =>
          Option.match(table.live(runId), {
            onSome: (doc) => Effect.succeedSome(doc),
            onNone: () => store.load(runId).pipe(Effect.map(Option.map((stored) => stored.doc)))
          })

        const cancel = Effect.fn("Scheduler.cancel")(function* (request: RunCancel) {
          let inFlight: ReadonlyArray<string> = []
          const cancelled = yield* table.transact(request.runId, (doc, now) => {
            inFlight = RunActor.tasksInFlight(doc).map((task) => task.taskId)
            return RunActor.cancel(doc, request.reason ?? "cancelled", now)
          })
          const stopped =
            cancelled && inFlight.length > 0
              ? yield* stopTasks({
                  bus,
                  names,
                  runId: request.runId,
                  inFlight,
                  reason: request.reason,
                  timeout: config.cancelConfirmTimeout
                }).pipe(
                  // The run is cancelled and saved either way; its tasks' results will be ignored.
                  Effect.catch((error) =>
                    Effect.logWarning(`could not tell executors to stop the tasks of cancelled run ${request.runId}`, error).pipe(
                      Effect.as([])
                    )
                  )
                )
              : []
          const record = yield* get(request.runId)
          return new RunCancelReply({
            version: 1,
            runId: request.runId,
            cancelled,
            status: Option.match(record, { onNone: () => "unknown", onSome: (doc) => doc.status }),
            ...(stopped.length === 0 ? {} : { stopped })
          })
        })

        /**
         * What must happen before a result is applied: a `for_each` task's output is stored in the
         * item results bucket (the record only counts it); a stage output stored as a blob is read
         * back when its output mode must look inside it (`append`, `merge`, `unpack`).
         */
        const prepareResult = (result: TaskResult) =>
          Effect.gen(function* () {
            if (result.status !== "succeeded") return result
            const doc = Option.getOrUndefined(table.live(result.runId))
            if (doc === undefined || !RunActor.owes(doc, result)) return result
            const stage = doc.stages[result.stage]!
            const index = itemIndexOf(result.taskId)
            if (stage.items !== undefined && index !== undefined) {
              yield* fanOut.store(result.runId, result.stage, index, result.output)
              return result
            }
            const mode = RunActor.metadataOf(doc, stage).output
            if (!isBlobRef(result.output) || mode === "set" || mode === "none") return result
            const output = yield* fanOut
              .jsonContentOf(result.output)
              .pipe(
                Effect.mapError(
                  (problem) =>
                    new BusError({ operation: "blob.get", message: `reading the output of task ${result.taskId}: ${problem.message}` })
                )
              )
            return new TaskSucceeded({ ...result, output })
          })

        const applyResult = Effect.fnUntraced(function* (message: JobMessage) {
          const decoded = yield* Effect.result(decodeResult(message))
          if (decoded._tag === "Failure") {
            yield* Effect.logWarning(`rejected result: ${decoded.failure.toString()}`)
            return yield* message.term(decoded.failure.toString())
          }
          const result = decoded.success
          // Standalone tasks (no run) are answered to their submitter; nothing to apply here.
          if (result.runId !== "") {
            pools.answered(result)
            const applicable = yield* prepareResult(result)
            const [took] = yield* table
              .transact(result.runId, (doc, now) => RunActor.onResult(doc, applicable, now, items))
              .pipe(
                Effect.timed,
                Effect.withSpan(
                  "Scheduler.applyResult",
                  {
                    kind: "consumer",
                    attributes: {
                      "messaging.system": "nats",
                      "messaging.operation.type": "process",
                      "messaging.destination.name": message.subject,
                      "messaging.message.id": `${result.taskId}:${result.attempt}`,
                      "messaging.nats.message.delivery_count": message.deliveryCount,
                      "switchyard.run.id": result.runId,
                      "switchyard.stage": result.stage,
                      "switchyard.stage.type": result.stageType,
                      "switchyard.attempt": result.attempt,
                      "switchyard.task.outcome": result.status
                    }
                  },
                  noStackTrace
                ),
                withParentFrom(message.headers)
              )
            yield* recordApply(Duration.toMillis(took))
          }
          yield* message.ack
        })

        // A task no replica could take (max deliveries, or terminated as poison) fails its stage for good.
        const failUndeliverable = Effect.fnUntraced(function* (message: JobMessage) {
          const letter = yield* Effect.option(decodeDeadLetter(message))
          if (Option.isNone(letter)) return yield* message.ack
          const { data, dataOmitted, deliveries, headers, reason } = letter.value
          const decoded =
            data === undefined
              ? Option.none()
              : yield* Effect.option(decodeTask({ subject: letter.value.subject, data: Buffer.from(data, "base64"), headers: {} }))
          // Without its payload (too large to keep in the dead letter), the task is known by its headers.
          const named = taskNamedBy(headers)
          const task = Option.isSome(decoded)
            ? decoded.value
            : named === undefined
              ? undefined
              : { ...named, stageType: Option.getOrUndefined(table.live(named.runId))?.stages[named.stage]?.type ?? "" }
          if (task !== undefined && task.runId !== "") {
            const { attempt, runId, stage, stageType, taskId } = task
            yield* Effect.logWarning(`task ${taskId} attempt ${attempt} of run ${runId} was dead-lettered: ${reason}`)
            yield* recordDeadLetter(letter.value.subject.slice(names.taskRun("").length), stageType)
            const error = new TaskFailure({
              tag: "TaskUndeliverableError",
              message: `the task was dead-lettered after ${deliveries} deliveries: ${reason}${dataOmitted === undefined ? "" : ` (${dataOmitted})`}`,
              retryable: false
            })
            const failed = new TaskFailed({
              version: 1,
              taskId,
              runId,
              stage,
              stageType,
              attempt,
              executorId: "",
              pool: "",
              status: "failed",
              error,
              durationMs: 0
            })
            yield* table.transact(runId, (doc, now) => RunActor.onResult(doc, failed, now))
          }
          yield* message.ack
        })

        // A run record another writer changed under this one cannot be saved now; the caller may try again.
        const conflictAsUnavailable = (error: KvConflictError) =>
          new ServiceUnavailableError({
            subject: `${error.bucket}.${error.key}`,
            operation: "kv.update",
            message: `the record changed under this scheduler (expected revision ${error.expectedRevision})`
          })

        const serveEndpoint = <E extends AnyEndpoint>(
          endpoint: E,
          handle: (request: Schema.Schema.Type<E["request"]>) => Effect.Effect<Schema.Schema.Type<E["success"]>, BusError | KvConflictError>
        ) =>
          Endpoints.serve({
            bus,
            names,
            endpoint,
            queue: "scheduler",
            concurrency: config.requestConcurrency,
            handle: (request) =>
              handle(request).pipe(Effect.catchTag("KvConflictError", (error) => Effect.fail(conflictAsUnavailable(error))))
          }).pipe(Scope.provide(scope))

        yield* serveEndpoint(RunSubmitEndpoint, submit)
        yield* serveEndpoint(RunCancelEndpoint, cancel)
        yield* Readiness.register({ name: "scheduler: taking runs", ready: Effect.succeed(true) }).pipe(Scope.provide(scope))

        /**
         * The status a ledger update's reply names: running when applied, else the run's
         * in-memory record (it may have just finished, not yet saved), else the stored one.
         */
        const ledgerStatus = (runId: string, applied: boolean) => {
          if (applied) return Effect.succeed("running" as const)
          const live = table.live(runId)
          if (Option.isSome(live)) return Effect.succeed(live.value.status)
          return store
            .load(runId)
            .pipe(Effect.map(Option.match({ onNone: () => "unknown" as const, onSome: (stored) => stored.doc.status })))
        }

        yield* serveEndpoint(LedgerUpdateEndpoint, (update) =>
          table
            .transact(update.runId, (doc, now) => RunActor.updateLedger(doc, update.fields, now))
            .pipe(
              Effect.flatMap((applied) =>
                ledgerStatus(update.runId, applied).pipe(
                  Effect.map((status) => new LedgerUpdateReply({ version: 1, runId: update.runId, applied, status }))
                )
              )
            )
        )

        // Resume every run a previous scheduler left unfinished, before taking results for them.
        const unfinished = yield* store.running
        yield* Effect.forEach(
          unfinished,
          (stored) =>
            table
              .transact(stored.doc.runId, (doc, now) => RunActor.resume(doc, now, items))
              .pipe(Effect.andThen(Effect.logInfo(`resumed run ${stored.doc.runId}`))),
          { discard: true }
        )

        const undeliverable = yield* bus.consume({
          stream: names.streams.deadLetters,
          durable: undeliverableTasksConsumer(names).durable,
          slots: 16
        })
        yield* undeliverable.pipe(
          Stream.runForEach((message) =>
            failUndeliverable(message).pipe(Effect.catchCause((cause) => Effect.logError("handling a dead-lettered task failed", cause)))
          ),
          Effect.forkIn(scope)
        )

        // Results: durable, acked only after the transition they cause is saved.
        const results = yield* bus.consume({
          stream: names.streams.results,
          durable: names.consumers.scheduler,
          slots: config.resultConcurrency
        })
        yield* results.pipe(
          Stream.mapEffect(
            (message) =>
              applyResult(message).pipe(
                Effect.catchCause((cause) =>
                  Effect.logError("applying a result failed; it will be redelivered", cause).pipe(
                    Effect.andThen(message.nak(Duration.seconds(1))),
                    Effect.ignore
                  )
                )
              ),
            { concurrency: config.resultConcurrency, unordered: true }
          ),
          Stream.runDrain,
          Effect.forkIn(scope)
        )

        yield* Effect.logInfo(`scheduler ready: ${table.size()} run(s) in progress`)
        // What it holds, for its gauges: both return to zero once no run is live.
        yield* Effect.suspend(() => recordHeld({ runs: table.size(), itemLists: loadedItems.size })).pipe(
          Effect.repeat(Schedule.spaced("1 second")),
          Effect.forkIn(scope)
        )

        return Scheduler.of({ submit, cancel, get, itemListsHeld: Effect.sync(() => loadedItems.size), ready: infrastructure.ready })
      })
    )
}
