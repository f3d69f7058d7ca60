/**
 * The run actor's transitions over a run record: start, apply a task result,
 * fire a due timer (a retry, or a waiting stage giving up), cancel, take
 * ledger fields (running waiting stages again), and list the work a resumed
 * run still owes. A transition takes the decoded record and leaves it as it
 * is: it returns the record it made, the events to publish, the tasks to
 * dispatch and the retry timers to arm; the scheduler keeps the new record
 * and persists it before doing any of those. A result is applied only when it
 * matches the stage's current task id and attempt and the stage is still in
 * flight, which makes redelivered results no-ops. Dependents come from an
 * index built once per pipeline and counters are handed from record to
 * record; what a transition does grows with the number of stages only in
 * copying the record's map of stages once (about as much work as
 * serializing it for the save that follows).
 *
 * A `for_each` stage runs as numbered tasks over its items. Its items are
 * known only once the scheduler has loaded the list (maybe from a blob), so
 * starting it asks for `prepare`; `itemsReady` then sends the first
 * `max_parallel` tasks. Each task is retried on its own; a finished task's
 * output is stored by the scheduler before its result is applied, and once
 * every task finished the transition asks for `combine`; `combined` applies
 * the stage's combined output. The record keeps counters and the tasks in
 * flight, never one entry per item.
 */
import { Schema } from "effect"
import type { RunEvent } from "@switchyard/schemas/Run"
import type { ItemTask, RunRecord, StageItems, StageRun } from "@switchyard/schemas/RunRecord"
import type { RegisteredStage } from "@switchyard/schemas/Registry"
import type { Pipeline, PipelineStage, RetryPolicy } from "@switchyard/schemas/Pipeline"
import type { StageMetadata } from "@switchyard/schemas/StageMetadata"
import { TaskFailure } from "@switchyard/schemas/Task"
import type { TaskMetrics, TaskResult, TaskRun, TaskSucceeded, TaskWaiting } from "@switchyard/schemas/Task"
import { applyOutput } from "./internal/applyOutput.ts"
import { countOutput } from "@switchyard/schemas/Count"
import { itemIndexOf, itemRange, itemTaskId } from "./internal/itemTasks.ts"
import { renderStageInputs } from "./internal/template.ts"

/** An event as it is published. */
export type EventMessage = typeof RunEvent.Encoded
/** An event of one kind without what the draft adds to every event. */
type EventFields = EventMessage extends infer E ? (E extends unknown ? Omit<E, "version" | "runId" | "seq" | "at"> : never) : never
/** A task as it is sent. */
export type TaskMessage = typeof TaskRun.Encoded

const isJson = Schema.is(Schema.Json)

/** A timer a transition arms: a stage's retry or wait deadline, or one task's retry of a `for_each` stage. */
export interface Timer {
  readonly stage: string
  readonly at: number
  readonly item?: number
}

/** What a transition made of the record, and what it asks the scheduler to do after persisting it. */
export interface Transition {
  /** The record after the transition; the one it was given is left as it was. */
  readonly record: RunRecord
  readonly events: ReadonlyArray<EventMessage>
  readonly dispatch: ReadonlyArray<TaskMessage>
  readonly timers: ReadonlyArray<Timer>
  /** `for_each` stages whose items the scheduler must load before `itemsReady`. */
  readonly prepare: ReadonlyArray<string>
  /** `for_each` stages whose tasks all finished: their outputs are to be combined, then `combined`. */
  readonly combine: ReadonlyArray<string>
}

/**
 * A `for_each` stage's list as the scheduler holds it: its length, and what `{{ items }}` and
 * `{{ item }}` are for the task over elements `from` to `to - 1` (the elements themselves, or
 * references to that part of a stored list, which the executor reads).
 */
export interface ItemSource {
  readonly length: number
  readonly slice: (from: number, to: number) => { readonly items: Schema.Json; readonly item: Schema.Json }
}

/** The items of a `for_each` stage the scheduler holds loaded, if it does. */
export type ItemLookup = (runId: string, stage: string) => ItemSource | undefined

const noItems: ItemLookup = () => undefined

/** Default tasks of a `for_each` stage in flight at once. */
export const defaultMaxParallel = 16

const defaultBackoffMs = 1000
const defaultFactor = 2
const defaultMaxBackoffMs = 60_000

/** Stable task id of one stage of one run (the attempt is carried beside it). */
export const taskIdOf = (runId: string, stage: string): string => `${runId}.${stage}`

/** A fresh record for a validated pipeline. */
export const newRun = (options: {
  readonly runId: string
  readonly file: string
  readonly pipeline: Pipeline
  readonly stages: ReadonlyMap<string, RegisteredStage>
  readonly inputs: Readonly<Record<string, Schema.Json>>
  /** The submit's vars, over the pipeline's. */
  readonly vars?: Readonly<Record<string, string>>
  readonly now: number
  readonly traceparent?: string
}): RunRecord => {
  const types: Record<string, StageMetadata> = {}
  const stages: Record<string, StageRun> = {}
  const vars = { ...options.pipeline.vars, ...options.vars }
  for (const stage of options.pipeline.stages) {
    const registered = options.stages.get(stage.name)!
    const type = registered.metadata.type
    const overridden = stage.metadata !== undefined
    if (!overridden || types[type] === undefined) types[type] = registered.metadata
    stages[stage.name] = {
      name: stage.name,
      type,
      ...(overridden ? { metadata: registered.metadata } : {}),
      pool: registered.pool,
      status: "pending",
      attempt: 0,
      taskId: taskIdOf(options.runId, stage.name)
    }
  }
  return {
    version: 1,
    runId: options.runId,
    file: options.file,
    pipeline: options.pipeline,
    inputs: { ...options.pipeline.inputs, ...options.inputs },
    status: "running",
    state: {},
    ledger: {},
    types,
    stages,
    seq: 0,
    createdAt: options.now,
    ...(Object.keys(vars).length === 0 ? {} : { vars }),
    ...(options.traceparent === undefined ? {} : { traceparent: options.traceparent })
  }
}

/** Derived from a pipeline once: its stages by name and each stage's dependents. */
interface PipelineIndex {
  readonly definitions: ReadonlyMap<string, PipelineStage>
  readonly dependents: ReadonlyMap<string, ReadonlyArray<string>>
}

// Pipelines are shared by the records of a run (and by runs of the same pipeline) and never change.
const pipelineIndexes = new WeakMap<Pipeline, PipelineIndex>()

const pipelineIndexOf = (pipeline: Pipeline): PipelineIndex => {
  const known = pipelineIndexes.get(pipeline)
  if (known !== undefined) return known
  const definitions = new Map(pipeline.stages.map((stage) => [stage.name, stage] as const))
  const dependents = new Map<string, Array<string>>()
  for (const stage of pipeline.stages) {
    for (const dependency of stage.depends_on ?? []) {
      const list = dependents.get(dependency)
      if (list === undefined) dependents.set(dependency, [stage.name])
      else list.push(stage.name)
    }
  }
  const index: PipelineIndex = { definitions, dependents }
  pipelineIndexes.set(pipeline, index)
  return index
}

/** Live counters of a record: stages succeeded, and per stage its dependencies not yet succeeded. */
interface Progress {
  succeeded: number
  readonly waitingOn: Map<string, number>
}

/**
 * Each record's counters. A transition takes them from the record it starts from and hands them
 * to the record it makes, so they are counted once per loaded record, not once per transition; a
 * record whose counters were handed on (or never counted) has them counted again when used.
 */
const progresses = new WeakMap<RunRecord, Progress>()

const takeProgress = (record: RunRecord, index: PipelineIndex): Progress => {
  const known = progresses.get(record)
  if (known !== undefined) {
    progresses.delete(record)
    return known
  }
  let succeeded = 0
  const waitingOn = new Map<string, number>()
  for (const [name, definition] of index.definitions) {
    if (record.stages[name]!.status === "succeeded") succeeded++
    waitingOn.set(name, (definition.depends_on ?? []).filter((dependency) => record.stages[dependency]?.status !== "succeeded").length)
  }
  return { succeeded, waitingOn }
}

/** Metadata of a stage's type. */
export const metadataOf = (record: RunRecord, stage: StageRun): StageMetadata => stage.metadata ?? record.types[stage.type]!

/**
 * One transition in the making: the record as updated so far (each update makes a new one; the
 * map of stages is copied once, on the first stage update) and the effects gathered.
 */
class Draft {
  readonly events: Array<EventMessage> = []
  readonly dispatch: Array<TaskMessage> = []
  readonly timers: Array<Timer> = []
  readonly prepare: Array<string> = []
  readonly combine: Array<string> = []
  record: RunRecord
  readonly index: PipelineIndex
  readonly progress: Progress
  readonly now: number
  readonly items: ItemLookup
  /** The draft's own copy of the record's stages, made on the first stage update. */
  private stages: Record<string, StageRun> | undefined
  constructor(record: RunRecord, now: number, items: ItemLookup = noItems) {
    this.record = record
    this.index = pipelineIndexOf(record.pipeline)
    this.progress = takeProgress(record, this.index)
    this.now = now
    this.items = items
  }
  update(fields: Partial<RunRecord>): void {
    this.record = { ...this.record, ...fields }
  }
  event(fields: EventFields): void {
    const seq = this.record.seq + 1
    this.update({ seq })
    this.events.push({ version: 1, runId: this.record.runId, seq, at: this.now, ...fields })
  }
  /** Updates fields of a stage. */
  stage(name: string, patch: Partial<StageRun>): StageRun {
    return this.replaceStage({ ...this.record.stages[name]!, ...patch })
  }
  /** Puts a stage in place of the one of its name. */
  replaceStage(next: StageRun): StageRun {
    if (this.stages === undefined) {
      this.stages = { ...this.record.stages }
      this.update({ stages: this.stages })
    }
    // The draft's own copy: no record handed out before this transition holds it.
    this.stages[next.name] = next
    return next
  }
  /** Asks for the stage's items to be loaded (once per transition). */
  needItems(stage: string): void {
    if (!this.prepare.includes(stage)) this.prepare.push(stage)
  }
  done(): Transition {
    const { record } = this
    progresses.set(record, this.progress)
    return { record, events: this.events, dispatch: this.dispatch, timers: this.timers, prepare: this.prepare, combine: this.combine }
  }
}

/** One task of a `for_each` stage: its index, attempt and items. */
interface ItemSlice {
  readonly index: number
  readonly attempt: number
  readonly items: Schema.Json
  readonly item: Schema.Json
}

/**
 * Sends the stage's task (or one task of a `for_each` stage) with its inputs rendered; inputs
 * that do not render to JSON fail the stage instead.
 */
const send = (draft: Draft, stage: StageRun, slice?: ItemSlice): void => {
  if (draft.record.status !== "running") return
  const definition = draft.index.definitions.get(stage.name)!
  const { record } = draft
  const { inputs, templates } = renderStageInputs(definition, {
    inputs: record.inputs,
    state: record.state,
    ledger: record.ledger,
    run: { id: record.runId },
    ...(slice === undefined ? {} : { items: slice.items, item: slice.item })
  })
  if (!isJsonObject(inputs)) {
    const message = `stage "${stage.name}" (${stage.type}): its inputs did not render to a JSON object`
    return fail(draft, stage, new TaskFailure({ tag: "InputTemplateError", message, retryable: false }), 0)
  }
  const ledger = Object.keys(record.ledger).length === 0 ? undefined : record.ledger
  draft.dispatch.push({
    version: 1,
    taskId: slice === undefined ? stage.taskId : itemTaskId(record.runId, stage.name, slice.index),
    runId: record.runId,
    stage: stage.name,
    stageType: stage.type,
    attempt: slice === undefined ? stage.attempt : slice.attempt,
    inputs,
    ...(templates.length === 0 ? {} : { templates }),
    ...(ledger === undefined ? {} : { ledger }),
    ...(definition.timeout_ms === undefined ? {} : { timeoutMs: definition.timeout_ms }),
    ...(record.vars === undefined ? {} : { vars: record.vars })
  })
}

const isJsonObject = (value: unknown): value is { readonly [key: string]: Schema.Json } =>
  value !== null && typeof value === "object" && !Array.isArray(value) && isJson(value)

const dispatchStage = (draft: Draft, name: string): void => {
  const started = draft.stage(name, { status: "dispatched", attempt: 1, startedAt: draft.now, ...ledgerSeen(draft.record) })
  draft.event({ kind: "stage.started", stage: started.name, stageType: started.type, attempt: 1 })
  // A `for_each` stage's tasks are made once its items are loaded.
  if (draft.index.definitions.get(name)!.for_each !== undefined) draft.needItems(name)
  else send(draft, started)
}

const ledgerSeen = (record: RunRecord): Partial<StageRun> =>
  record.ledgerVersion === undefined ? {} : { ledgerSeen: record.ledgerVersion }

/** Dispatches the given pending stages whose dependencies all succeeded; finishes the run when all did. */
const advance = (draft: Draft, candidates: Iterable<string>): void => {
  for (const name of candidates) {
    if (draft.record.status !== "running") return
    if (draft.record.stages[name]!.status === "pending" && draft.progress.waitingOn.get(name) === 0) dispatchStage(draft, name)
  }
  if (draft.record.status === "running" && draft.progress.succeeded === draft.record.pipeline.stages.length) finish(draft, "succeeded")
}

/** A stage succeeded: its dependents whose dependencies all succeeded now go out. */
const succeeded = (draft: Draft, name: string): void => {
  const { progress } = draft
  progress.succeeded++
  const dependents = draft.index.dependents.get(name) ?? []
  for (const dependent of dependents) progress.waitingOn.set(dependent, progress.waitingOn.get(dependent)! - 1)
  advance(draft, dependents)
}

const finish = (draft: Draft, status: "succeeded" | "failed" | "cancelled", error?: TaskFailure): void => {
  for (const stage of Object.values(draft.record.stages)) {
    const unfinished = stage.status === "pending" || stage.status === "retrying" || stage.status === "waiting"
    if (unfinished || (status === "cancelled" && stage.status === "dispatched")) {
      draft.stage(stage.name, { status: "skipped" })
      draft.event({ kind: "stage.skipped", stage: stage.name, stageType: stage.type })
    }
  }
  draft.update({ status, finishedAt: draft.now, ...(error === undefined ? {} : { error }) })
  draft.event({
    kind: "run.finished",
    status,
    ...traceIdOf(draft.record),
    state: draft.record.state,
    ...(error === undefined ? {} : { error: eventError(error) })
  })
}

/** The trace id of the run's submit, from the `traceparent` its record keeps. */
const traceIdOf = (record: RunRecord): { readonly traceId?: string } => {
  const traceId = record.traceparent?.split("-")[1]
  return traceId === undefined ? {} : { traceId }
}

/** Starts a new run: announces it and dispatches its root stages. */
export const start = (record: RunRecord, now: number): Transition => {
  const draft = new Draft(record, now)
  draft.event({ kind: "run.started", ...traceIdOf(record) })
  advance(
    draft,
    record.pipeline.stages.map((stage) => stage.name)
  )
  return draft.done()
}

/** What the runtime measured of an attempt, as the stage and its events keep it. */
const measuredOf = (metrics: TaskMetrics | undefined): { readonly metrics?: TaskMetrics } => (metrics === undefined ? {} : { metrics })

/** Applies a task result; `undefined` when it is stale or a duplicate. */
export const onResult = (record: RunRecord, result: TaskResult, now: number, items: ItemLookup = noItems): Transition | undefined => {
  if (record.status !== "running") return undefined
  const stage = record.stages[result.stage]
  if (stage?.items !== undefined) return onItemResult(record, stage, stage.items, result, now, items)
  if (stage === undefined || stage.status !== "dispatched" || stage.taskId !== result.taskId || stage.attempt !== result.attempt) {
    return undefined
  }
  const draft = new Draft(record, now)
  const metadata = metadataOf(record, stage)
  const durationMs = result.durationMs
  const measured = measuredOf(result.metrics)
  if (result.status === "succeeded") {
    const applied = applyOutput(record.state, { stateKey: metadata.stateKey, mode: metadata.output, output: result.output ?? null })
    if (applied._tag === "Rejected") {
      const message = `stage "${stage.name}" (${stage.type}): ${applied.message}`
      fail(draft, stage, new TaskFailure({ tag: "OutputApplyError", message, retryable: false }), durationMs, measured)
      return draft.done()
    }
    const count = countOf(record, stage, result)
    draft.update({ state: applied.state })
    draft.stage(stage.name, { status: "succeeded", finishedAt: now, count, durationMs, executorId: result.executorId, ...measured })
    draft.event({
      kind: "stage.finished",
      stage: stage.name,
      stageType: stage.type,
      attempt: stage.attempt,
      executorId: result.executorId,
      durationMs,
      count,
      ...measured
    })
    succeeded(draft, stage.name)
    return draft.done()
  }
  if (result.status === "waiting") {
    wait(draft, stage, result.waiting)
    return draft.done()
  }
  fail(
    draft,
    { ...stage, executorId: result.executorId },
    result.error ?? new TaskFailure({ tag: "StageError", message: "the stage failed without an error", retryable: true }),
    durationMs,
    measured
  )
  return draft.done()
}

/** How long after failed attempt `attempt` the next one goes out. */
const backoffOf = (policy: RetryPolicy | undefined, attempt: number): number => {
  const base = policy?.backoff_ms ?? defaultBackoffMs
  const factor = policy?.factor ?? defaultFactor
  return Math.min(policy?.max_backoff_ms ?? defaultMaxBackoffMs, base * factor ** (attempt - 1))
}

/**
 * A succeeded task's output count: the executor's when it counted (it does for outputs it stored
 * as blobs) and the pipeline does not override the type's `count`, else counted here.
 */
const countOf = (record: RunRecord, stage: StageRun, result: TaskSucceeded): number =>
  result.count !== undefined && stage.metadata === undefined
    ? result.count
    : countOutput(metadataOf(record, stage).count, result.output ?? null)

/** A failure as events carry it: tag, message and its structured fields. */
const eventError = (error: TaskFailure) => ({
  tag: error.tag,
  message: error.message,
  ...(error.fields === undefined ? {} : { fields: error.fields })
})

const fail = (
  draft: Draft,
  stage: StageRun,
  error: TaskFailure,
  durationMs: number,
  measured: { readonly metrics?: TaskMetrics } = {}
): void => {
  const policy = draft.index.definitions.get(stage.name)!.retries
  const maxAttempts = policy?.max_attempts ?? 1
  const willRetry = error.retryable && stage.attempt < maxAttempts
  draft.event({
    kind: "stage.failed",
    stage: stage.name,
    stageType: stage.type,
    attempt: stage.attempt,
    ...(stage.executorId === undefined || stage.executorId === "" ? {} : { executorId: stage.executorId }),
    durationMs,
    error: eventError(error),
    ...measured
  })
  if (willRetry) {
    const delay = backoffOf(policy, stage.attempt)
    const at = draft.now + delay
    draft.stage(stage.name, { status: "retrying", retryAt: at, error, durationMs, ...measured })
    draft.event({ kind: "stage.retrying", stage: stage.name, stageType: stage.type, attempt: stage.attempt + 1, retryInMs: delay })
    draft.timers.push({ stage: stage.name, at })
    return
  }
  draft.stage(stage.name, { status: "failed", finishedAt: draft.now, error, durationMs, ...measured })
  finish(
    draft,
    "failed",
    new TaskFailure({
      tag: error.tag,
      message: `stage "${stage.name}" failed after ${stage.attempt} attempt${stage.attempt === 1 ? "" : "s"}: ${error.message}`,
      retryable: false,
      ...(error.fields === undefined ? {} : { fields: error.fields })
    })
  )
}

/**
 * A stage answered that it waits for the ledger: it waits until a ledger
 * update runs it again or its time is up. When the ledger changed while it
 * was deciding, it runs again at once.
 */
const wait = (draft: Draft, stage: StageRun, waiting: TaskWaiting): void => {
  const waitUntil = stage.waitUntil ?? draft.now + waiting.timeoutMs
  if (draft.now >= waitUntil) {
    giveUp(draft, { ...stage, waiting }, 0)
    return
  }
  const changed = (draft.record.ledgerVersion ?? 0) !== (stage.ledgerSeen ?? 0)
  const previous = stage.waiting
  const waitingStage = draft.stage(stage.name, { status: "waiting", waiting, waitUntil })
  if (previous === undefined || previous.message !== waiting.message || previous.unmet.join("\n") !== waiting.unmet.join("\n")) {
    draft.event({
      kind: "stage.waiting",
      stage: stage.name,
      stageType: stage.type,
      attempt: stage.attempt,
      waiting: { message: waiting.message, unmet: waiting.unmet }
    })
  }
  if (stage.waitUntil === undefined) draft.timers.push({ stage: stage.name, at: waitUntil })
  if (changed) wake(draft, waitingStage)
}

/** Runs a waiting stage again, as a new task (its own id, so the bus does not drop it as a duplicate). */
const wake = (draft: Draft, stage: StageRun): void => {
  const wakes = (stage.wakes ?? 0) + 1
  const next = draft.stage(stage.name, {
    status: "dispatched",
    wakes,
    taskId: `${taskIdOf(draft.record.runId, stage.name)}~${wakes}`,
    ...ledgerSeen(draft.record)
  })
  send(draft, next)
}

/** A waiting stage's time is up: it fails with the error it named, and its unmet conditions. */
const giveUp = (draft: Draft, stage: StageRun, durationMs: number): void => {
  const waiting = stage.waiting!
  fail(draft, stage, new TaskFailure({ ...waiting.timeoutError, retryable: false }), durationMs)
}

/**
 * A timer is due: dispatches the next attempt of a retrying stage, or fails a
 * waiting stage whose time is up; `undefined` when nothing is due any more.
 */
export const onTimer = (
  record: RunRecord,
  stageName: string,
  now: number,
  item?: number,
  items: ItemLookup = noItems
): Transition | undefined => {
  const stage = record.stages[stageName]
  if (record.status !== "running" || stage === undefined) return undefined
  if (item !== undefined) return onItemTimer(record, stage, item, now, items)
  if (stage.status === "waiting" && stage.waitUntil !== undefined && now >= stage.waitUntil) {
    const draft = new Draft(record, now)
    giveUp(draft, stage, now - (stage.startedAt ?? now))
    return draft.done()
  }
  if (stage.status !== "retrying") return undefined
  const draft = new Draft(record, now)
  const { retryAt: _, ...rest } = stage
  const next = draft.replaceStage({ ...rest, status: "dispatched", attempt: stage.attempt + 1, ...ledgerSeen(record) })
  draft.event({ kind: "stage.started", stage: stageName, stageType: stage.type, attempt: next.attempt })
  send(draft, next)
  return draft.done()
}

/**
 * No live executor serves the pool of a dispatched stage: reports it, and fails the stage (so
 * the run) when the pipeline says `on_unschedulable: fail`; `undefined` when the stage is no
 * longer waiting for that attempt of that task.
 */
export const unschedulable = (
  record: RunRecord,
  task: { readonly stage: string; readonly taskId: string; readonly attempt: number },
  now: number
): Transition | undefined => {
  const stage = record.stages[task.stage]
  if (stage === undefined || !owes(record, task)) return undefined
  const draft = new Draft(record, now)
  const message = `unschedulable: no live executor serves pool ${stage.pool}`
  draft.event({ kind: "stage.unschedulable", stage: stage.name, stageType: stage.type, attempt: task.attempt, pool: stage.pool, message })
  if (record.pipeline.on_unschedulable === "fail") {
    fail(draft, stage, new TaskFailure({ tag: "StageUnschedulableError", message, retryable: false }), 0)
  }
  return draft.done()
}

/** Cancels a running run; `undefined` when it already finished. */
export const cancel = (record: RunRecord, reason: string, now: number): Transition | undefined => {
  if (record.status !== "running") return undefined
  const draft = new Draft(record, now)
  finish(draft, "cancelled", new TaskFailure({ tag: "RunCancelledError", message: reason, retryable: false }))
  return draft.done()
}

/**
 * Merges ledger fields into a running run and runs its waiting stages again;
 * `undefined` for a finished run, whose ledger stays as it ended.
 */
export const updateLedger = (record: RunRecord, fields: Readonly<Record<string, Schema.Json>>, now: number): Transition | undefined => {
  if (record.status !== "running") return undefined
  const draft = new Draft(record, now)
  draft.update({ ledger: { ...record.ledger, ...fields }, ledgerVersion: (record.ledgerVersion ?? 0) + 1 })
  for (const stage of Object.values(record.stages)) if (stage.status === "waiting") wake(draft, stage)
  return draft.done()
}

/** What a resumed run still owes: tasks in flight (re-sent; deduplicated by id), retry and wait timers. */
export const resume = (record: RunRecord, now: number, items: ItemLookup = noItems): Transition => {
  const draft = new Draft(record, now, items)
  if (record.status !== "running") return draft.done()
  for (const stage of Object.values(record.stages)) {
    if (stage.status === "dispatched" && draft.index.definitions.get(stage.name)!.for_each !== undefined) {
      resumeItems(draft, stage)
      continue
    }
    if (stage.status === "dispatched") send(draft, stage)
    if (stage.status === "retrying") draft.timers.push({ stage: stage.name, at: stage.retryAt ?? now })
    if (stage.status === "waiting") {
      draft.timers.push({ stage: stage.name, at: stage.waitUntil ?? now })
      if ((record.ledgerVersion ?? 0) !== (stage.ledgerSeen ?? 0)) wake(draft, stage)
    }
  }
  advance(
    draft,
    record.pipeline.stages.map((stage) => stage.name)
  )
  return draft.done()
}

/**
 * Re-derives what a run whose effects failed still owes, as `resume` does after a restart (tasks
 * in flight sent again, under the message ids that make a re-send within the duplicate window a
 * no-op; timers armed; items loaded; outputs combined), and tells watchers where every stage
 * is, with one event per stage that has started, so a watcher that missed events converges.
 */
export const reconcile = (record: RunRecord, now: number, items: ItemLookup = noItems): Transition | undefined => {
  if (record.status !== "running") return undefined
  const resumed = resume(record, now, items)
  const draft = new Draft(resumed.record, now, items)
  for (const stage of Object.values(draft.record.stages)) replayStage(draft, stage)
  const replayed = draft.done()
  return {
    ...replayed,
    events: [...resumed.events, ...replayed.events],
    dispatch: [...resumed.dispatch, ...replayed.dispatch],
    timers: [...resumed.timers, ...replayed.timers],
    prepare: [...resumed.prepare, ...replayed.prepare],
    combine: [...resumed.combine, ...replayed.combine]
  }
}

/** The event that says where a stage is now, from its record. */
const replayStage = (draft: Draft, stage: StageRun): void => {
  const common = { stage: stage.name, stageType: stage.type }
  switch (stage.status) {
    case "pending":
      return
    case "dispatched":
      if (stage.items !== undefined) {
        const { count, doneItems, skippedItems, total } = stage.items
        return draft.event({ kind: "stage.progress", ...common, done: doneItems, total, skipped: skippedItems, count })
      }
      return draft.event({ kind: "stage.started", ...common, attempt: stage.attempt })
    case "retrying":
      return draft.event({
        kind: "stage.retrying",
        ...common,
        attempt: stage.attempt,
        retryInMs: Math.max(0, (stage.retryAt ?? draft.now) - draft.now)
      })
    case "waiting":
      return draft.event({
        kind: "stage.waiting",
        ...common,
        attempt: stage.attempt,
        waiting: { message: stage.waiting?.message ?? "", unmet: stage.waiting?.unmet ?? [] }
      })
    case "succeeded":
      return draft.event({
        kind: "stage.finished",
        ...common,
        attempt: stage.attempt,
        executorId: stage.executorId ?? "",
        durationMs: stage.durationMs ?? 0,
        count: stage.count ?? 0,
        ...(stage.metrics === undefined ? {} : { metrics: stage.metrics })
      })
    case "failed":
      return draft.event({
        kind: "stage.failed",
        ...common,
        attempt: stage.attempt,
        durationMs: stage.durationMs ?? 0,
        error: eventError(stage.error ?? new TaskFailure({ tag: "StageError", message: "failed", retryable: false }))
      })
    case "skipped":
      return draft.event({ kind: "stage.skipped", ...common })
  }
}

/** The `run.finished` event of a finished run, as it was sent (same sequence number), to send again. */
export const finishedEvent = (record: RunRecord): EventMessage | undefined =>
  record.status === "running"
    ? undefined
    : {
        version: 1,
        runId: record.runId,
        seq: record.seq,
        at: record.finishedAt ?? record.createdAt,
        kind: "run.finished",
        status: record.status,
        ...traceIdOf(record),
        state: record.state,
        ...(record.error === undefined ? {} : { error: eventError(record.error) })
      }

// ---- for_each stages -------------------------------------------------------------------------

/** What a resumed `for_each` stage owes: its tasks in flight (once its items are loaded), retry timers, or its combination. */
const resumeItems = (draft: Draft, stage: StageRun): void => {
  const items = stage.items
  if (items === undefined) return draft.needItems(stage.name)
  for (const [index, task] of Object.entries(items.running)) {
    if (task.status === "retrying") draft.timers.push({ stage: stage.name, at: task.retryAt ?? draft.now, item: Number(index) })
    else sendItem(draft, stage, items, Number(index))
  }
  fillWindow(draft, stage.name)
}

/**
 * Sends task `index` of a `for_each` stage (its entry in `running` already says which attempt);
 * when the scheduler does not hold the stage's items, asks for them: `itemsReady` sends every
 * task the record says is in flight.
 */
const sendItem = (draft: Draft, stage: StageRun, items: StageItems, index: number): void => {
  const loaded = draft.items(draft.record.runId, stage.name)
  if (loaded === undefined) return draft.needItems(stage.name)
  const from = index * items.batch
  send(draft, stage, { index, attempt: items.running[String(index)]!.attempt, ...loaded.slice(from, from + items.batch) })
}

/** Sends further tasks while the stage has room under `max_parallel`; asks to combine when every task finished. */
const fillWindow = (draft: Draft, name: string): void => {
  const stage = draft.record.stages[name]!
  const limit = draft.index.definitions.get(name)!.max_parallel ?? defaultMaxParallel
  const items = stage.items!
  let inFlight = Object.keys(items.running).length
  if (items.next < items.tasks && inFlight < limit) {
    const running: Record<string, ItemTask> = { ...items.running }
    const sent: Array<number> = []
    let next = items.next
    for (; next < items.tasks && inFlight < limit; next++, inFlight++) {
      running[String(next)] = { status: "dispatched", attempt: 1 }
      sent.push(next)
    }
    const updated = draft.stage(name, { items: { ...items, next, running } })
    for (const index of sent) sendItem(draft, updated, updated.items!, index)
  }
  if (items.done === items.tasks && !draft.combine.includes(name)) draft.combine.push(name)
}

/**
 * The scheduler loaded a `for_each` stage's items (`total` of them): the first time, the stage's
 * tasks are numbered and the first `max_parallel` sent; after a restart, the tasks the record
 * says are in flight are sent again (the bus drops repeats by id). `undefined` when the stage no
 * longer runs.
 */
export const itemsReady = (record: RunRecord, stageName: string, total: number, now: number, items: ItemLookup): Transition | undefined => {
  const stage = record.stages[stageName]
  if (record.status !== "running" || stage === undefined || stage.status !== "dispatched") return undefined
  const draft = new Draft(record, now, items)
  if (stage.items === undefined) {
    const batch = draft.index.definitions.get(stageName)!.batch ?? 1
    const tasks = Math.ceil(total / batch)
    draft.stage(stageName, {
      items: { total, batch, tasks, next: 0, done: 0, doneItems: 0, count: 0, running: {}, skipped: [], skippedItems: 0 }
    })
    draft.event({ kind: "stage.progress", stage: stageName, stageType: stage.type, done: 0, total, skipped: 0, count: 0 })
  } else {
    for (const [index, task] of Object.entries(stage.items.running)) {
      if (task.status === "dispatched") sendItem(draft, stage, stage.items, Number(index))
    }
  }
  fillWindow(draft, stageName)
  return draft.done()
}

/** A `for_each` stage's list could not be had (not a list, or its blob unreadable): the stage fails. */
export const itemsUnavailable = (record: RunRecord, stageName: string, message: string, now: number): Transition | undefined => {
  const stage = record.stages[stageName]
  if (record.status !== "running" || stage === undefined || stage.status !== "dispatched" || stage.items !== undefined) return undefined
  const draft = new Draft(record, now)
  fail(draft, stage, new TaskFailure({ tag: "ForEachError", message: `stage "${stageName}" for_each: ${message}`, retryable: false }), 0)
  return draft.done()
}

/** The result of one task of a `for_each` stage. */
const onItemResult = (
  record: RunRecord,
  stage: StageRun,
  items: StageItems,
  result: TaskResult,
  now: number,
  lookup: ItemLookup
): Transition | undefined => {
  const index = itemIndexOf(result.taskId)
  const task = index === undefined ? undefined : items.running[String(index)]
  if (index === undefined || stage.status !== "dispatched" || task === undefined || task.status !== "dispatched") return undefined
  if (task.attempt !== result.attempt || result.taskId !== itemTaskId(record.runId, stage.name, index)) return undefined
  const draft = new Draft(record, now, lookup)
  const key = String(index)
  const { from, to } = itemRange(index, items.batch, items.total)
  const finishTask = (count: number, skipped: boolean) => {
    const { [key]: _, ...running } = items.running
    const next: StageItems = {
      ...items,
      running,
      done: items.done + 1,
      doneItems: items.doneItems + to - from,
      count: items.count + count,
      ...(skipped ? { skipped: [...items.skipped, index], skippedItems: items.skippedItems + to - from } : {})
    }
    draft.stage(stage.name, { items: next })
    draft.event({
      kind: "stage.progress",
      stage: stage.name,
      stageType: stage.type,
      done: next.doneItems,
      total: next.total,
      skipped: next.skippedItems,
      count: next.count
    })
    fillWindow(draft, stage.name)
  }
  if (result.status === "succeeded") {
    finishTask(countOf(record, stage, result), false)
    return draft.done()
  }
  const error =
    result.status === "failed"
      ? (result.error ?? new TaskFailure({ tag: "StageError", message: "the stage failed without an error", retryable: true }))
      : new TaskFailure({
          tag: "ForEachWaitingError",
          message: `a for_each task cannot wait for the ledger: ${result.waiting.message}`,
          retryable: false
        })
  const definition = draft.index.definitions.get(stage.name)!
  const policy = definition.retries
  const willRetry = error.retryable && task.attempt < (policy?.max_attempts ?? 1)
  const skip = !willRetry && definition.on_item_failure === "skip"
  const measured = measuredOf(result.metrics)
  draft.event({
    kind: "stage.failed",
    stage: stage.name,
    stageType: stage.type,
    attempt: task.attempt,
    item: index,
    ...(skip ? { skipped: true } : {}),
    ...(result.executorId === "" ? {} : { executorId: result.executorId }),
    durationMs: result.durationMs,
    error: eventError(error),
    ...measured
  })
  if (willRetry) {
    const delay = backoffOf(policy, task.attempt)
    const retrying: ItemTask = { status: "retrying", attempt: task.attempt, retryAt: now + delay }
    draft.stage(stage.name, { items: { ...items, running: { ...items.running, [key]: retrying } } })
    draft.event({
      kind: "stage.retrying",
      stage: stage.name,
      stageType: stage.type,
      attempt: task.attempt + 1,
      item: index,
      retryInMs: delay
    })
    draft.timers.push({ stage: stage.name, at: now + delay, item: index })
    return draft.done()
  }
  if (skip) {
    finishTask(0, true)
    return draft.done()
  }
  const range = to - from === 1 ? `item ${from}` : `items ${from}-${to - 1}`
  draft.stage(stage.name, { status: "failed", finishedAt: now, error, durationMs: now - (stage.startedAt ?? now), ...measured })
  finish(
    draft,
    "failed",
    new TaskFailure({
      tag: error.tag,
      message: `stage "${stage.name}" task ${index} (${range}) failed after ${task.attempt} attempt${task.attempt === 1 ? "" : "s"}: ${error.message}`,
      retryable: false,
      fields: { ...error.fields, item: index }
    })
  )
  return draft.done()
}

/** A retrying task of a `for_each` stage is due: its next attempt goes out. */
const onItemTimer = (record: RunRecord, stage: StageRun, index: number, now: number, lookup: ItemLookup): Transition | undefined => {
  const items = stage.items
  const task = items?.running[String(index)]
  if (stage.status !== "dispatched" || items === undefined || task === undefined || task.status !== "retrying") return undefined
  const draft = new Draft(record, now, lookup)
  const dispatched: ItemTask = { status: "dispatched", attempt: task.attempt + 1 }
  const updated = draft.stage(stage.name, { items: { ...items, running: { ...items.running, [String(index)]: dispatched } } })
  sendItem(draft, updated, updated.items!, index)
  return draft.done()
}

/**
 * A `for_each` stage's tasks all finished and the scheduler combined their outputs: `slots` are
 * the state slots it writes, computed from `seen` (the slots as they were when it combined); when
 * another stage changed one of them since, it is combined again. `undefined` when the stage no
 * longer runs.
 */
export const combined = (
  record: RunRecord,
  stageName: string,
  slots: Readonly<Record<string, Schema.Json>>,
  seen: Readonly<Record<string, unknown>>,
  now: number
): Transition | undefined => {
  const stage = record.stages[stageName]
  const items = stage?.items
  if (record.status !== "running" || stage === undefined || stage.status !== "dispatched" || items === undefined) return undefined
  if (items.done !== items.tasks) return undefined
  const draft = new Draft(record, now)
  if (Object.keys(seen).some((key) => record.state[key] !== seen[key])) {
    draft.combine.push(stageName)
    return draft.done()
  }
  draft.update({ state: { ...record.state, ...slots } })
  const durationMs = now - (stage.startedAt ?? now)
  draft.stage(stageName, { status: "succeeded", finishedAt: now, count: items.count, durationMs, executorId: "" })
  draft.event({
    kind: "stage.finished",
    stage: stageName,
    stageType: stage.type,
    attempt: stage.attempt,
    executorId: "",
    durationMs,
    count: items.count
  })
  succeeded(draft, stageName)
  return draft.done()
}

/** Combining a `for_each` stage's outputs failed (a stored output is missing or unreadable): the stage fails. */
export const combineFailed = (record: RunRecord, stageName: string, message: string, now: number): Transition | undefined => {
  const stage = record.stages[stageName]
  if (record.status !== "running" || stage === undefined || stage.status !== "dispatched" || stage.items === undefined) return undefined
  const draft = new Draft(record, now)
  fail(draft, stage, new TaskFailure({ tag: "ForEachCombineError", message: `stage "${stageName}": ${message}`, retryable: false }), 0)
  return draft.done()
}

/**
 * The record once a compacted snapshot of it was saved: each state slot the snapshot stored as a
 * blob holds the reference here too, where the record still holds what the snapshot held (slots
 * are replaced, never changed in place, so the same value means the same content).
 */
export const withStoredSlots = (record: RunRecord, snapshot: RunRecord, compacted: RunRecord): RunRecord => {
  const stored = Object.keys(compacted.state).filter(
    (key) => compacted.state[key] !== snapshot.state[key] && record.state[key] === snapshot.state[key]
  )
  if (stored.length === 0) return record
  const state = { ...record.state }
  for (const key of stored) state[key] = compacted.state[key]!
  const updated = { ...record, state }
  const progress = progresses.get(record)
  if (progress !== undefined) {
    progresses.delete(record)
    progresses.set(updated, progress)
  }
  return updated
}

/** Every task of the run in flight now: single-task stages and the tasks of `for_each` stages. */
export const tasksInFlight = (record: RunRecord): Array<{ readonly stage: string; readonly taskId: string; readonly attempt: number }> =>
  Object.values(record.stages).flatMap((stage) => {
    if (stage.status !== "dispatched") return []
    if (stage.items === undefined) {
      const forEach = pipelineIndexOf(record.pipeline).definitions.get(stage.name)?.for_each !== undefined
      return forEach ? [] : [{ stage: stage.name, taskId: stage.taskId, attempt: stage.attempt }]
    }
    return Object.entries(stage.items.running)
      .filter(([, task]) => task.status === "dispatched")
      .map(([index, task]) => ({ stage: stage.name, taskId: itemTaskId(record.runId, stage.name, Number(index)), attempt: task.attempt }))
  })

/** Whether the run waits for this attempt of this task. */
export const owes = (record: RunRecord, task: { readonly stage: string; readonly taskId: string; readonly attempt: number }): boolean => {
  if (record.status !== "running") return false
  const stage = record.stages[task.stage]
  if (stage === undefined || stage.status !== "dispatched") return false
  if (stage.items === undefined) return stage.taskId === task.taskId && stage.attempt === task.attempt
  const index = itemIndexOf(task.taskId)
  const running = index === undefined ? undefined : stage.items.running[String(index)]
  return running !== undefined && running.status === "dispatched" && running.attempt === task.attempt
}
