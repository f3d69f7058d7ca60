/**
 * The run actor's transitions over a run record: start, apply a task result,
 * fire a due timer (a retry, or a waiting stage giving up), cancel, take
 * ledger fields (running waiting stages again), and list the work a resumed
 * run still owes. A transition updates the record in place (the scheduler
 * owns it under the run's lock) and returns the events to publish, the tasks
 * to dispatch and the retry timers to arm; the scheduler persists the record
 * before doing any of those. A result is applied only when it matches the
 * stage's current task id and attempt and the stage is still in flight,
 * which makes redelivered results no-ops. Work per transition does not grow
 * with the number of stages: dependents and counters come from an index
 * built once per record.
 */
import type { RunEvent } from "@switchyard/schemas/Run"
import type { RunRecord, StageRun } from "@switchyard/schemas/RunRecord"
import type { RegisteredStage } from "@switchyard/schemas/Registry"
import type { Pipeline, PipelineStage } from "@switchyard/schemas/Pipeline"
import type { StageMetadata } from "@switchyard/schemas/StageMetadata"
import type { TaskResult, TaskRun } from "@switchyard/schemas/Task"
import { applyOutput } from "./internal/applyOutput.ts"
import { countOutput } from "./internal/countOutput.ts"
import { resolveTemplates } from "./internal/template.ts"

/** A run record as plain JSON (what the KV bucket holds). */
export type RunDoc = typeof RunRecord.Encoded
type StageDoc = typeof StageRun.Encoded
type EventDoc = typeof RunEvent.Encoded
/** An event of one kind without what the draft adds to every event. */
type EventFields = EventDoc extends infer E ? (E extends unknown ? Omit<E, "version" | "runId" | "seq" | "at"> : never) : never
type TaskDoc = typeof TaskRun.Encoded
type FailureDoc = NonNullable<StageDoc["error"]>
type MetricsDoc = NonNullable<StageDoc["metrics"]>
type MetadataDoc = typeof StageMetadata.Encoded
type Mutable<T> = { -readonly [K in keyof T]: T[K] }

/** What a transition asks the scheduler to do, after persisting the record. */
export interface Transition {
  readonly events: ReadonlyArray<EventDoc>
  readonly dispatch: ReadonlyArray<TaskDoc>
  readonly timers: ReadonlyArray<{ readonly stage: string; readonly at: number }>
}

const defaultBackoffMs = 1000
const defaultFactor = 2
const defaultMaxBackoffMs = 60_000

/** Stable task id of one stage of one run (the attempt is carried beside it). */
export const taskIdOf = (runId: string, stage: string): string => `${runId}.${stage}`

/** A fresh record for a validated pipeline. */
export const newRun = (options: {
  readonly runId: string
  readonly file: string
  readonly pipeline: typeof Pipeline.Encoded
  readonly stages: ReadonlyMap<string, typeof RegisteredStage.Encoded>
  readonly inputs: Readonly<Record<string, unknown>>
  /** The submit's vars, over the pipeline's. */
  readonly vars?: Readonly<Record<string, string>>
  readonly now: number
  readonly traceparent?: string
}): RunDoc => {
  const types: Record<string, MetadataDoc> = {}
  const stages: Record<string, StageDoc> = {}
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
    inputs: { ...(options.pipeline.inputs ?? {}), ...options.inputs } as RunDoc["inputs"],
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

/** Derived from the pipeline once per record: lookups and dependents, plus live counters. */
interface RunIndex {
  readonly definitions: ReadonlyMap<string, typeof PipelineStage.Encoded>
  readonly dependents: ReadonlyMap<string, ReadonlyArray<string>>
  /** Dependencies not yet succeeded, per pending stage. */
  readonly waitingOn: Map<string, number>
  succeeded: number
}

const indexes = new WeakMap<RunDoc, RunIndex>()

const indexOf = (record: RunDoc): RunIndex => {
  const known = indexes.get(record)
  if (known !== undefined) return known
  const definitions = new Map(record.pipeline.stages.map((stage) => [stage.name, stage] as const))
  const dependents = new Map<string, Array<string>>()
  const waitingOn = new Map<string, number>()
  let succeeded = 0
  for (const stage of record.pipeline.stages) {
    const dependencies = stage.depends_on ?? []
    for (const dependency of dependencies) {
      const list = dependents.get(dependency)
      if (list === undefined) dependents.set(dependency, [stage.name])
      else list.push(stage.name)
    }
    if (record.stages[stage.name]!.status === "succeeded") succeeded++
    waitingOn.set(stage.name, dependencies.filter((dependency) => record.stages[dependency]?.status !== "succeeded").length)
  }
  const index: RunIndex = { definitions, dependents, waitingOn, succeeded }
  indexes.set(record, index)
  return index
}

/** Metadata of a stage's type. */
export const metadataOf = (record: RunDoc, stage: StageDoc): MetadataDoc => stage.metadata ?? record.types[stage.type]!

/** Accumulates one transition's effects while it updates the record. */
class Draft {
  readonly events: Array<EventDoc> = []
  readonly dispatch: Array<TaskDoc> = []
  readonly timers: Array<{ stage: string; at: number }> = []
  readonly record: Mutable<RunDoc>
  readonly index: RunIndex
  readonly now: number
  constructor(record: RunDoc, now: number) {
    this.record = record as Mutable<RunDoc>
    this.index = indexOf(record)
    this.now = now
  }
  event(fields: EventFields): void {
    this.record.seq = this.record.seq + 1
    this.events.push({ version: 1, runId: this.record.runId, seq: this.record.seq, at: this.now, ...fields } as EventDoc)
  }
  stage(name: string, patch: Partial<StageDoc>): StageDoc {
    const next = { ...this.record.stages[name]!, ...patch }
    ;(this.record.stages as Record<string, StageDoc>)[name] = next
    return next
  }
  done(): Transition {
    return { events: this.events, dispatch: this.dispatch, timers: this.timers }
  }
}

const taskFor = (draft: Draft, stage: StageDoc): TaskDoc => {
  const definition = draft.index.definitions.get(stage.name)!
  const { record } = draft
  const ledger = Object.keys(record.ledger).length === 0 ? undefined : record.ledger
  const inputs = resolveTemplates(definition.inputs ?? {}, {
    inputs: record.inputs,
    state: record.state,
    ledger: record.ledger,
    run: { id: record.runId }
  })
  return {
    version: 1,
    taskId: stage.taskId,
    runId: record.runId,
    stage: stage.name,
    stageType: stage.type,
    attempt: stage.attempt,
    inputs: (definition.config === undefined ? inputs : { ...definition.config, ...(inputs as object) }) as TaskDoc["inputs"],
    ...(ledger === undefined ? {} : { ledger }),
    ...(definition.timeout_ms === undefined ? {} : { timeoutMs: definition.timeout_ms }),
    ...(record.vars === undefined ? {} : { vars: record.vars })
  }
}

const dispatchStage = (draft: Draft, name: string): void => {
  const started = draft.stage(name, { status: "dispatched", attempt: 1, startedAt: draft.now, ...ledgerSeen(draft.record) })
  draft.event({ kind: "stage.started", stage: started.name, stageType: started.type, attempt: 1 })
  draft.dispatch.push(taskFor(draft, started))
}

const ledgerSeen = (record: RunDoc): Partial<StageDoc> => (record.ledgerVersion === undefined ? {} : { ledgerSeen: record.ledgerVersion })

/** Dispatches the given pending stages whose dependencies all succeeded; finishes the run when all did. */
const advance = (draft: Draft, candidates: Iterable<string>): void => {
  if (draft.record.status !== "running") return
  for (const name of candidates) {
    if (draft.record.stages[name]!.status === "pending" && draft.index.waitingOn.get(name) === 0) dispatchStage(draft, name)
  }
  if (draft.index.succeeded === draft.record.pipeline.stages.length) finish(draft, "succeeded")
}

const finish = (draft: Draft, status: "succeeded" | "failed" | "cancelled", error?: FailureDoc): void => {
  for (const stage of Object.values(draft.record.stages)) {
    const unfinished = stage.status === "pending" || stage.status === "retrying" || stage.status === "waiting"
    if (unfinished || (status === "cancelled" && stage.status === "dispatched")) {
      draft.stage(stage.name, { status: "skipped" })
      draft.event({ kind: "stage.skipped", stage: stage.name, stageType: stage.type })
    }
  }
  draft.record.status = status
  draft.record.finishedAt = draft.now
  if (error !== undefined) draft.record.error = error
  draft.event({
    kind: "run.finished",
    status,
    state: draft.record.state,
    ...(error === undefined ? {} : { error: eventError(error) })
  })
}

/** Starts a new run: announces it and dispatches its root stages. */
export const start = (record: RunDoc, now: number): Transition => {
  const draft = new Draft(record, now)
  draft.event({ kind: "run.started" })
  advance(
    draft,
    record.pipeline.stages.map((stage) => stage.name)
  )
  return draft.done()
}

/** Applies a task result; `undefined` when it is stale or a duplicate. */
export const onResult = (record: RunDoc, result: typeof TaskResult.Encoded, now: number): Transition | undefined => {
  if (record.status !== "running") return undefined
  const stage = record.stages[result.stage]
  if (stage === undefined || stage.status !== "dispatched" || stage.taskId !== result.taskId || stage.attempt !== result.attempt) {
    return undefined
  }
  const draft = new Draft(record, now)
  const metadata = metadataOf(record, stage)
  const durationMs = result.durationMs
  // A copy as plain JSON: the record is stored as JSON, and the result may be a decoded class instance.
  const measured = result.metrics === undefined ? {} : { metrics: { ...result.metrics } as MetricsDoc }
  if (result.status === "succeeded") {
    const applied = applyOutput(record.state, { stateKey: metadata.stateKey, mode: metadata.output, output: result.output ?? null })
    if (applied._tag === "Rejected") {
      fail(
        draft,
        stage,
        { tag: "OutputApplyError", message: `stage "${stage.name}" (${stage.type}): ${applied.message}`, retryable: false },
        durationMs,
        measured
      )
      return draft.done()
    }
    const count = countOutput(metadata.count, result.output ?? null)
    draft.record.state = applied.state as RunDoc["state"]
    draft.stage(stage.name, { status: "succeeded", finishedAt: now, count, durationMs, executorId: result.executorId, ...measured })
    draft.index.succeeded++
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
    const dependents = draft.index.dependents.get(stage.name) ?? []
    for (const dependent of dependents) draft.index.waitingOn.set(dependent, draft.index.waitingOn.get(dependent)! - 1)
    advance(draft, dependents)
    return draft.done()
  }
  if (result.status === "waiting") {
    wait(draft, stage, result.waiting)
    return draft.done()
  }
  fail(
    draft,
    { ...stage, executorId: result.executorId },
    result.error ?? { tag: "StageError", message: "the stage failed without an error", retryable: true },
    durationMs,
    measured
  )
  return draft.done()
}

/** A failure as events carry it: tag, message and its structured fields. */
const eventError = (error: FailureDoc) => ({
  tag: error.tag,
  message: error.message,
  ...(error.fields === undefined ? {} : { fields: error.fields })
})

const fail = (
  draft: Draft,
  stage: StageDoc,
  error: FailureDoc,
  durationMs: number,
  measured: { readonly metrics?: MetricsDoc } = {}
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
    const base = policy?.backoff_ms ?? defaultBackoffMs
    const factor = policy?.factor ?? defaultFactor
    const delay = Math.min(policy?.max_backoff_ms ?? defaultMaxBackoffMs, base * factor ** (stage.attempt - 1))
    const at = draft.now + delay
    draft.stage(stage.name, { status: "retrying", retryAt: at, error, durationMs, ...measured })
    draft.event({ kind: "stage.retrying", stage: stage.name, stageType: stage.type, attempt: stage.attempt + 1, retryInMs: delay })
    draft.timers.push({ stage: stage.name, at })
    return
  }
  draft.stage(stage.name, { status: "failed", finishedAt: draft.now, error, durationMs, ...measured })
  finish(draft, "failed", {
    tag: error.tag,
    message: `stage "${stage.name}" failed after ${stage.attempt} attempt${stage.attempt === 1 ? "" : "s"}: ${error.message}`,
    retryable: false,
    ...(error.fields === undefined ? {} : { fields: error.fields })
  })
}

type WaitingDoc = NonNullable<StageDoc["waiting"]>

/**
 * A stage answered that it waits for the ledger: it waits until a ledger
 * update runs it again or its time is up. When the ledger changed while it
 * was deciding, it runs again at once.
 */
const wait = (draft: Draft, stage: StageDoc, waiting: WaitingDoc): void => {
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
const wake = (draft: Draft, stage: StageDoc): void => {
  const wakes = (stage.wakes ?? 0) + 1
  const next = draft.stage(stage.name, {
    status: "dispatched",
    wakes,
    taskId: `${taskIdOf(draft.record.runId, stage.name)}~${wakes}`,
    ...ledgerSeen(draft.record)
  })
  draft.dispatch.push(taskFor(draft, next))
}

/** A waiting stage's time is up: it fails with the error it named, and its unmet conditions. */
const giveUp = (draft: Draft, stage: StageDoc, durationMs: number): void => {
  const waiting = stage.waiting!
  fail(draft, stage, { ...waiting.timeoutError, retryable: false }, durationMs)
}

/**
 * A timer is due: dispatches the next attempt of a retrying stage, or fails a
 * waiting stage whose time is up; `undefined` when nothing is due any more.
 */
export const onTimer = (record: RunDoc, stageName: string, now: number): Transition | undefined => {
  const stage = record.stages[stageName]
  if (record.status !== "running" || stage === undefined) return undefined
  if (stage.status === "waiting" && stage.waitUntil !== undefined && now >= stage.waitUntil) {
    const draft = new Draft(record, now)
    giveUp(draft, stage, now - (stage.startedAt ?? now))
    return draft.done()
  }
  if (stage.status !== "retrying") return undefined
  const draft = new Draft(record, now)
  const { retryAt: _, ...rest } = stage
  const next: StageDoc = { ...rest, status: "dispatched", attempt: stage.attempt + 1, ...ledgerSeen(record) }
  ;(draft.record.stages as Record<string, StageDoc>)[stageName] = next
  draft.event({ kind: "stage.started", stage: stageName, stageType: stage.type, attempt: next.attempt })
  draft.dispatch.push(taskFor(draft, next))
  return draft.done()
}

/**
 * No live executor serves the pool of a dispatched stage: reports it, and fails the stage (so
 * the run) when the pipeline says `on_unschedulable: fail`; `undefined` when the stage is no
 * longer waiting for that attempt of that task.
 */
export const unschedulable = (
  record: RunDoc,
  task: { readonly stage: string; readonly taskId: string; readonly attempt: number },
  now: number
): Transition | undefined => {
  const stage = record.stages[task.stage]
  if (record.status !== "running" || stage === undefined) return undefined
  if (stage.status !== "dispatched" || stage.taskId !== task.taskId || stage.attempt !== task.attempt) return undefined
  const draft = new Draft(record, now)
  const message = `unschedulable: no live executor serves pool ${stage.pool}`
  draft.event({ kind: "stage.unschedulable", stage: stage.name, stageType: stage.type, attempt: stage.attempt, pool: stage.pool, message })
  if (record.pipeline.on_unschedulable === "fail") fail(draft, stage, { tag: "StageUnschedulableError", message, retryable: false }, 0)
  return draft.done()
}

/** Cancels a running run; `undefined` when it already finished. */
export const cancel = (record: RunDoc, reason: string, now: number): Transition | undefined => {
  if (record.status !== "running") return undefined
  const draft = new Draft(record, now)
  finish(draft, "cancelled", { tag: "RunCancelledError", message: reason, retryable: false })
  return draft.done()
}

/**
 * Merges ledger fields into a running run and runs its waiting stages again;
 * `undefined` for a finished run, whose ledger stays as it ended.
 */
export const updateLedger = (record: RunDoc, fields: Readonly<Record<string, unknown>>, now: number): Transition | undefined => {
  if (record.status !== "running") return undefined
  const draft = new Draft(record, now)
  draft.record.ledger = { ...record.ledger, ...fields } as RunDoc["ledger"]
  draft.record.ledgerVersion = (record.ledgerVersion ?? 0) + 1
  for (const stage of Object.values(record.stages)) if (stage.status === "waiting") wake(draft, stage)
  return draft.done()
}

/** What a resumed run still owes: tasks in flight (re-sent; deduplicated by id), retry and wait timers. */
export const resume = (record: RunDoc, now: number): Transition => {
  const draft = new Draft(record, now)
  if (record.status !== "running") return draft.done()
  for (const stage of Object.values(record.stages)) {
    if (stage.status === "dispatched") draft.dispatch.push(taskFor(draft, stage))
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
