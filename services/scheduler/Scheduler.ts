/**
 * The scheduler owns runs. It validates a submitted pipeline against the
 * registry, keeps one actor per running run (its record, KV revision and a
 * lock so its transitions are serial), applies task results from the results
 * work queue exactly once, arms retry timers, and answers `run.submit`,
 * `run.cancel` and `ledger.update.<runId>`. Every transition is written to the
 * run-state bucket before its events, dispatches and acks happen, so a
 * restarted scheduler resumes every unfinished run from the bucket.
 */
import { Clock, Context, Duration, Effect, Layer, Option, Random, Schema, Scope, Semaphore, Stream } from "effect"
import { Bus } from "../bus/Bus.ts"
import type { JobMessage, Message } from "../bus/Bus.ts"
import type { BusError, KvConflictError } from "../bus/BusError.ts"
import { decode, encode, encodePlain } from "../bus/Codec.ts"
import { deadLetterStream, resultsStream, schedulerConsumer, tasksStream, undeliverableTasksConsumer } from "../bus/Streams.ts"
import { Subjects } from "../bus/Subjects.ts"
import { TraceparentHeader, traceHeaders, withParentFrom } from "../telemetry/index.ts"
import { RegistryClient } from "../registry/RegistryClient.ts"
import { LedgerUpdate, PipelineIssue, RunCancel, RunCancelReply, RunSubmit, RunSubmitReply } from "../../schemas/Run.ts"
import type { RunEvent } from "../../schemas/Run.ts"
import { TaskResult, TaskRun } from "../../schemas/Task.ts"
import { WireType } from "../../schemas/Catalog.ts"
import { Pipeline } from "../../schemas/Pipeline.ts"
import { RegisteredStage } from "../../schemas/Registry.ts"
import { loadPipeline } from "./PipelineLoader.ts"
import { PipelineInvalidError } from "./PipelineError.ts"
import * as RunActor from "./RunActor.ts"
import type { RunDoc, Transition } from "./RunActor.ts"
import { RunStore } from "./RunStore.ts"
import { SchedulerConfig } from "./SchedulerConfig.ts"

interface Actor {
  doc: RunDoc
  revision: number
  readonly lock: Semaphore.Semaphore
}

/**
 * Type header of the scheduler's answer to a request it could not decode
 * (other than `run.submit`, which answers with issues): a JSON body
 * `{ _tag: "MalformedMessageError", subject, path, message }`.
 */
export const SchedulerErrorType = "SchedulerError/1"

/** What the bus publishes on a dead-letter subject (see `DeadLetter` in Bus.ts). */
const DeadLetterRecord = Schema.Struct({
  subject: Schema.String,
  deliveries: Schema.Number,
  reason: Schema.String,
  data: Schema.optionalKey(Schema.String)
})

const encodePipeline = Schema.encodeSync(Pipeline)
const encodeRegistered = Schema.encodeSync(RegisteredStage)

/** The scheduler service. */
export class Scheduler extends Context.Service<Scheduler, {
  /** Validates and starts a run; invalid pipelines come back as issues, not failures. */
  readonly submit: (request: RunSubmit) => Effect.Effect<RunSubmitReply, BusError | KvConflictError>
  readonly cancel: (request: RunCancel) => Effect.Effect<RunCancelReply, BusError | KvConflictError>
  /** The run's current record (in memory while running, else from the bucket). */
  readonly get: (runId: string) => Effect.Effect<Option.Option<RunDoc>, BusError>
}>()("switchyard/scheduler/Scheduler") {
  static readonly layer: Layer.Layer<Scheduler, BusError | KvConflictError, Bus | RunStore | RegistryClient | SchedulerConfig> = Layer.effect(
    Scheduler,
    Effect.gen(function*() {
      const bus = yield* Bus
      const names = yield* Subjects
      const store = yield* RunStore
      const registry = yield* RegistryClient
      const config = yield* SchedulerConfig
      const scope = yield* Scope.Scope
      const actors = new Map<string, Actor>()

      yield* bus.ensureStream(tasksStream(names))
      yield* bus.ensureStream(resultsStream(names))
      yield* bus.ensureStream(deadLetterStream(names))
      yield* bus.ensureConsumer(undeliverableTasksConsumer(names))
      yield* bus.ensureConsumer(schedulerConsumer(names, {
        ackWait: config.resultAckWait,
        maxAckPending: config.resultConcurrency * 4
      }))

      /** Persists, then publishes events, dispatches tasks and arms timers. */
      const commit: (actor: Actor, transition: Transition) => Effect.Effect<void, BusError | KvConflictError> = Effect.fnUntraced(function*(actor: Actor, transition: Transition) {
        actor.revision = yield* store.save(transition.record, actor.revision)
        actor.doc = transition.record
        yield* Effect.forEach(transition.dispatch, (task) => dispatch(actor, task), { discard: true })
        yield* Effect.forEach(transition.events, (event) => publishEvent(transition.record, event), { discard: true })
        yield* Effect.forEach(transition.timers, (timer) => armTimer(actor.doc.runId, timer.stage, timer.at), { discard: true })
        if (actor.doc.status !== "running") actors.delete(actor.doc.runId)
      })

      // Every hop of a run continues the trace its submit started (kept in the record).
      const runTrace = (doc: RunDoc): Record<string, string> =>
        doc.traceparent === undefined ? {} : { [TraceparentHeader]: doc.traceparent }

      const dispatch = (actor: Actor, task: typeof TaskRun.Encoded) => {
        const pool = actor.doc.stages[task.stage]!.pool
        const message = encodePlain(WireType.TaskRun, task)
        return traceHeaders.pipe(
          Effect.flatMap((trace) =>
            bus.enqueue(names.taskRun(pool), message.data, {
              msgId: `${task.taskId}:${task.attempt}`,
              headers: { ...message.headers, ...trace }
            })
          ),
          Effect.withSpan("Scheduler.dispatch", {
            attributes: { "switchyard.run_id": task.runId, "switchyard.stage": task.stage, "switchyard.attempt": task.attempt, "switchyard.pool": pool }
          }),
          withParentFrom(runTrace(actor.doc))
        )
      }

      const publishEvent = (doc: RunDoc, event: typeof RunEvent.Encoded) => {
        const message = encodePlain(WireType.RunEvent, event)
        return bus.publish(names.runEvent(event.runId), message.data, { headers: { ...message.headers, ...runTrace(doc) } })
      }

      /** Runs a transition on a run under its lock; reloads the record once if a save lost a race. */
      const transact = (
        runId: string,
        step: (doc: RunDoc, now: number) => Transition | undefined
      ): Effect.Effect<boolean, BusError | KvConflictError> => {
        const attempt = Effect.gen(function*() {
          const actor = yield* actorFor(runId)
          if (Option.isNone(actor)) return false
          return yield* actor.value.lock.withPermit(
            Effect.gen(function*() {
              const now = yield* Clock.currentTimeMillis
              const transition = step(actor.value.doc, now)
              if (transition === undefined) return false
              yield* commit(actor.value, transition)
              return true
            })
          )
        })
        return attempt.pipe(
          Effect.catchTag("KvConflictError", (conflict) =>
            Effect.logWarning(`run ${runId} changed underneath this scheduler; reloading it`, conflict.message).pipe(
              Effect.andThen(Effect.sync(() => actors.delete(runId))),
              Effect.andThen(attempt)
            ))
        )
      }

      // One loader at a time, so a run never gets two actors (and two locks).
      const loading = Semaphore.makeUnsafe(1)
      const actorFor = (runId: string): Effect.Effect<Option.Option<Actor>, BusError> => {
        const existing = actors.get(runId)
        if (existing !== undefined) return Effect.succeed(Option.some(existing))
        return loading.withPermit(Effect.gen(function*() {
          const raced = actors.get(runId)
          if (raced !== undefined) return Option.some(raced)
          const stored = yield* store.load(runId)
          if (Option.isNone(stored) || stored.value.doc.status !== "running") return Option.none<Actor>()
          const actor: Actor = { doc: stored.value.doc, revision: stored.value.revision, lock: Semaphore.makeUnsafe(1) }
          actors.set(runId, actor)
          return Option.some(actor)
        }))
      }

      const armTimer = (runId: string, stage: string, at: number): Effect.Effect<void> =>
        Effect.gen(function*() {
          const now = yield* Clock.currentTimeMillis
          yield* Effect.sleep(Duration.millis(Math.max(0, at - now)))
          yield* transact(runId, (doc, time) => RunActor.onRetryDue(doc, stage, time))
        }).pipe(
          Effect.catchCause((cause) => Effect.logError(`retry of stage ${stage} in run ${runId} failed`, cause)),
          Effect.forkIn(scope),
          Effect.asVoid
        )

      const submit = Effect.fn("Scheduler.submit")(function*(request: RunSubmit) {
        const validated = yield* loadPipeline({ file: request.file, text: request.text }, (types) =>
          registry.resolve(types).pipe(
            Effect.mapError((error) =>
              new PipelineInvalidError({
                file: request.file,
                issues: [new PipelineIssue({
                  file: request.file,
                  line: 1,
                  column: 1,
                  path: "",
                  message: `could not ask the registry about stage types: ${error.message}`
                })]
              })
            )
          )).pipe(Effect.result)
        if (validated._tag === "Failure") {
          return new RunSubmitReply({ version: 1, issues: validated.failure.issues })
        }
        const { pipeline, stages } = validated.success
        const now = yield* Clock.currentTimeMillis
        const runId = request.runId ?? `${now.toString(36)}-${(yield* Random.nextIntBetween(0, 2 ** 31)).toString(36)}`
        yield* Effect.annotateCurrentSpan({ "switchyard.run_id": runId })
        const trace = yield* traceHeaders
        const doc = RunActor.newRun({
          runId,
          file: request.file,
          pipeline: encodePipeline(pipeline),
          stages: new Map([...stages].map(([name, stage]) => [name, encodeRegistered(stage)])),
          inputs: request.inputs,
          now,
          ...(trace[TraceparentHeader] === undefined ? {} : { traceparent: trace[TraceparentHeader] })
        })
        const created = yield* store.create(doc).pipe(Effect.result)
        if (created._tag === "Failure") {
          if (created.failure._tag === "KvConflictError") return new RunSubmitReply({ version: 1, runId, issues: [] })
          return yield* created.failure
        }
        const actor: Actor = { doc, revision: created.success, lock: Semaphore.makeUnsafe(1) }
        actors.set(runId, actor)
        yield* actor.lock.withPermit(commit(actor, RunActor.start(doc, now)))
        return new RunSubmitReply({ version: 1, runId, issues: [] })
      })

      const cancel = Effect.fn("Scheduler.cancel")(function*(request: RunCancel) {
        const cancelled = yield* transact(request.runId, (doc, now) => RunActor.cancel(doc, request.reason ?? "cancelled", now))
        const record = yield* get(request.runId)
        return new RunCancelReply({
          version: 1,
          runId: request.runId,
          cancelled,
          status: Option.match(record, { onNone: () => "unknown", onSome: (doc) => doc.status })
        })
      })

      const get = (runId: string) => {
        const actor = actors.get(runId)
        if (actor !== undefined) return Effect.succeed(Option.some(actor.doc))
        return store.load(runId).pipe(Effect.map(Option.map((stored) => stored.doc)))
      }

      const applyResult = Effect.fnUntraced(function*(message: JobMessage) {
        const decoded = yield* decode(TaskResult, WireType.TaskResult)(message).pipe(Effect.result)
        if (decoded._tag === "Failure") {
          yield* Effect.logWarning(`rejected result: ${decoded.failure.toString()}`)
          return yield* message.term(decoded.failure.toString())
        }
        const result = decoded.success
        // Standalone tasks (no run) are answered to their submitter; nothing to apply here.
        if (result.runId !== "") {
          yield* transact(result.runId, (doc, now) => RunActor.onResult(doc, result, now)).pipe(
            Effect.withSpan("Scheduler.applyResult", {
              attributes: { "switchyard.run_id": result.runId, "switchyard.stage": result.stage, "switchyard.attempt": result.attempt }
            }),
            withParentFrom(message.headers)
          )
        }
        yield* message.ack
      })

      // A task no replica could take (max deliveries, or terminated as poison) fails its stage for good.
      const failUndeliverable = Effect.fnUntraced(function*(message: JobMessage) {
        const letter = yield* decode(DeadLetterRecord, "DeadLetter")(message).pipe(Effect.option)
        const task = Option.isSome(letter) && letter.value.data !== undefined
          ? yield* decode(TaskRun, WireType.TaskRun)({
            subject: letter.value.subject,
            data: Buffer.from(letter.value.data, "base64"),
            headers: {}
          }).pipe(Effect.option)
          : Option.none()
        if (Option.isSome(task) && Option.isSome(letter) && task.value.runId !== "") {
          const { runId, stage, stageType, attempt, taskId } = task.value
          yield* Effect.logWarning(`task ${taskId} attempt ${attempt} of run ${runId} was dead-lettered: ${letter.value.reason}`)
          yield* transact(runId, (doc, now) =>
            RunActor.onResult(doc, {
              version: 1,
              taskId,
              runId,
              stage,
              stageType,
              attempt,
              executorId: "",
              pool: "",
              status: "failed",
              error: { tag: "TaskUndeliverableError", message: `the task was dead-lettered after ${letter.value.deliveries} deliveries: ${letter.value.reason}`, retryable: false },
              durationMs: 0
            }, now))
        }
        yield* message.ack
      })

      const undeliverable = yield* bus.consume({ stream: names.streams.deadLetters, durable: undeliverableTasksConsumer(names).durable, slots: 16 })
      yield* undeliverable.pipe(
        Stream.runForEach((message) =>
          failUndeliverable(message).pipe(Effect.catchCause((cause) => Effect.logError("handling a dead-lettered task failed", cause)))
        ),
        Effect.forkIn(scope)
      )

      const serve = <A>(
        subject: string,
        handle: (message: Message) => Effect.Effect<A, unknown>,
        queue?: string
      ) =>
        Effect.gen(function*() {
          const messages = yield* bus.subscribe(subject, queue === undefined ? {} : { queue })
          yield* messages.pipe(
            Stream.runForEach((message) =>
              handle(message).pipe(
                withParentFrom(message.headers),
                Effect.catchCause((cause) => Effect.logError(`handling a message on ${message.subject} failed`, cause))
              )
            ),
            Effect.forkIn(scope)
          )
        })

      yield* serve(names.runSubmit, (message) =>
        decode(RunSubmit, WireType.RunSubmit)(message).pipe(
          Effect.matchEffect({
            onFailure: (error) =>
              Effect.logWarning(`rejected ${error.toString()}`).pipe(
                Effect.andThen(reply(message, encode(RunSubmitReply, WireType.RunSubmitReply, new RunSubmitReply({
                  version: 1,
                  issues: [new PipelineIssue({ file: error.subject, line: 0, column: 0, path: error.path, message: error.message })]
                }))))
              ),
            onSuccess: (request) =>
              submit(request).pipe(Effect.flatMap((answer) => reply(message, encode(RunSubmitReply, WireType.RunSubmitReply, answer))))
          })
        ), "scheduler")

      yield* serve(names.runCancel, (message) =>
        decode(RunCancel, WireType.RunCancel)(message).pipe(
          Effect.matchEffect({
            onFailure: (error) =>
              Effect.logWarning(`rejected ${error.toString()}`).pipe(
                Effect.andThen(reply(message, encodePlain(SchedulerErrorType, { _tag: error._tag, subject: error.subject, path: error.path, message: error.message })))
              ),
            onSuccess: (request) =>
              cancel(request).pipe(Effect.flatMap((answer) => reply(message, encode(RunCancelReply, WireType.RunCancelReply, answer))))
          })
        ), "scheduler")

      yield* serve(names.ledgerUpdate("*"), (message) =>
        decode(LedgerUpdate, WireType.LedgerUpdate)(message).pipe(
          Effect.matchEffect({
            onFailure: (error) => Effect.logWarning(`rejected ${error.toString()}`),
            onSuccess: (update) => transact(update.runId, (doc, now) => RunActor.updateLedger(doc, update.fields, now))
          })
        ), "scheduler")

      const reply = (message: Message, payload: { readonly data: Uint8Array; readonly headers: Record<string, string> }) =>
        message.reply === undefined ? Effect.void : bus.respond(message, payload.data, { headers: payload.headers })

      // Resume every run a previous scheduler left unfinished, before taking results for them.
      const unfinished = yield* store.running
      yield* Effect.forEach(unfinished, (stored) =>
        Effect.gen(function*() {
          yield* transact(stored.doc.runId, (doc, now) => RunActor.resume(doc, now))
          yield* Effect.logInfo(`resumed run ${stored.doc.runId}`)
        }), { discard: true })

      // Results: durable, acked only after the transition they cause is persisted.
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

      yield* Effect.logInfo(`scheduler ready: ${actors.size} run(s) in progress`)
      return Scheduler.of({ submit, cancel, get })
    })
  )
}
