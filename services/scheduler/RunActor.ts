/**
 * The run actor's transitions, as pure functions over a run record: start,
 * apply a task result, fire a due retry, cancel, take ledger fields, and list
 * the work a resumed run still owes. Each returns the next record plus the
 * events to publish, the tasks to dispatch and the retry timers to arm; the
 * scheduler persists the record before doing any of those. A result is
 * applied only when it matches the stage's current task id and attempt and
 * the stage is still in flight, which makes redelivered results no-ops.
 */
import type { RunEvent } from "../../schemas/Run.ts"
import type { RunRecord, StageRun } from "../../schemas/RunRecord.ts"
import type { RegisteredStage } from "../../schemas/Registry.ts"
import type { Pipeline, PipelineStage } from "../../schemas/Pipeline.ts"
import type { TaskResult, TaskRun } from "../../schemas/Task.ts"
import { applyOutput } from "./internal/applyOutput.ts"
import { countOutput } from "./internal/countOutput.ts"
import { resolveTemplates } from "./internal/template.ts"

/** A run record as plain JSON (what the KV bucket holds). */
export type RunDoc = typeof RunRecord.Encoded
type StageDoc = typeof StageRun.Encoded
type EventDoc = typeof RunEvent.Encoded
type TaskDoc = typeof TaskRun.Encoded
type FailureDoc = NonNullable<StageDoc["error"]>

/** What a transition asks the scheduler to do, after persisting `record`. */
export interface Transition {
  readonly record: RunDoc
  readonly events: ReadonlyArray<EventDoc>
  readonly dispatch: ReadonlyArray<TaskDoc>
  readonly timers: ReadonlyArray<{ readonly stage: string; readonly at: number }>
}

/** Default retry policy: one attempt. */
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
  readonly now: number
  readonly traceparent?: string
}): RunDoc => ({
  version: 1,
  runId: options.runId,
  file: options.file,
  pipeline: options.pipeline,
  inputs: { ...(options.pipeline.inputs ?? {}), ...options.inputs } as RunDoc["inputs"],
  status: "running",
  state: {},
  ledger: {},
  stages: Object.fromEntries(
    options.pipeline.stages.map((stage) => {
      const registered = options.stages.get(stage.name)!
      const doc: StageDoc = {
        name: stage.name,
        metadata: registered.metadata,
        pool: registered.pool,
        status: "pending",
        attempt: 0,
        taskId: taskIdOf(options.runId, stage.name)
      }
      return [stage.name, doc]
    })
  ),
  seq: 0,
  createdAt: options.now,
  ...(options.traceparent === undefined ? {} : { traceparent: options.traceparent })
})

/** Accumulates one transition's effects. */
class Draft {
  record: RunDoc
  readonly events: Array<EventDoc> = []
  readonly dispatch: Array<TaskDoc> = []
  readonly timers: Array<{ stage: string; at: number }> = []
  readonly now: number
  constructor(record: RunDoc, now: number) {
    this.record = record
    this.now = now
  }
  event(fields: Omit<EventDoc, "version" | "runId" | "seq" | "at">): void {
    const seq = this.record.seq + 1
    this.record = { ...this.record, seq }
    this.events.push({ version: 1, runId: this.record.runId, seq, at: this.now, ...fields } as EventDoc)
  }
  stage(name: string, patch: Partial<StageDoc>): StageDoc {
    const next = { ...this.record.stages[name]!, ...patch }
    this.record = { ...this.record, stages: { ...this.record.stages, [name]: next } }
    return next
  }
  done(): Transition {
    return { record: this.record, events: this.events, dispatch: this.dispatch, timers: this.timers }
  }
}

const definitionOf = (record: RunDoc, name: string): typeof PipelineStage.Encoded =>
  record.pipeline.stages.find((stage) => stage.name === name)!

const taskFor = (record: RunDoc, stage: StageDoc): TaskDoc => {
  const definition = definitionOf(record, stage.name)
  const inputs = resolveTemplates(definition.inputs ?? {}, { inputs: record.inputs, state: record.state, ledger: record.ledger })
  return {
    version: 1,
    taskId: stage.taskId,
    runId: record.runId,
    stage: stage.name,
    stageType: stage.metadata.type,
    attempt: stage.attempt,
    inputs: inputs as TaskDoc["inputs"],
    ...(definition.timeout_ms === undefined ? {} : { timeoutMs: definition.timeout_ms })
  }
}

/** Dispatches every pending stage whose dependencies all succeeded; finishes the run when nothing is left. */
const advance = (draft: Draft): void => {
  if (draft.record.status !== "running") return
  for (const definition of draft.record.pipeline.stages) {
    const stage = draft.record.stages[definition.name]!
    if (stage.status !== "pending") continue
    const ready = (definition.depends_on ?? []).every((dependency) => draft.record.stages[dependency]?.status === "succeeded")
    if (!ready) continue
    const started = draft.stage(stage.name, { status: "dispatched", attempt: 1, startedAt: draft.now })
    draft.event({ kind: "stage.started", stage: started.name, stageType: started.metadata.type, attempt: 1 })
    draft.dispatch.push(taskFor(draft.record, started))
  }
  const stages = Object.values(draft.record.stages)
  if (stages.every((stage) => stage.status === "succeeded")) {
    finish(draft, "succeeded")
  }
}

const finish = (draft: Draft, status: "succeeded" | "failed" | "cancelled", error?: FailureDoc): void => {
  for (const stage of Object.values(draft.record.stages)) {
    if (stage.status === "pending" || stage.status === "retrying" || (status === "cancelled" && stage.status === "dispatched")) {
      draft.stage(stage.name, { status: "skipped" })
      draft.event({ kind: "stage.skipped", stage: stage.name, stageType: stage.metadata.type })
    }
  }
  draft.record = {
    ...draft.record,
    status,
    finishedAt: draft.now,
    ...(error === undefined ? {} : { error })
  }
  draft.event({
    kind: "run.finished",
    status,
    state: draft.record.state,
    ...(error === undefined ? {} : { error: { tag: error.tag, message: error.message } })
  })
}

/** Starts a new run: announces it and dispatches its root stages. */
export const start = (record: RunDoc, now: number): Transition => {
  const draft = new Draft(record, now)
  draft.event({ kind: "run.started" })
  advance(draft)
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
  const durationMs = result.durationMs
  if (result.status === "succeeded") {
    const applied = applyOutput(record.state, {
      stateKey: stage.metadata.stateKey,
      mode: stage.metadata.output,
      output: result.output ?? null
    })
    if (applied._tag === "Rejected") {
      fail(draft, stage, { tag: "OutputApplyError", message: `stage "${stage.name}" (${stage.metadata.type}): ${applied.message}`, retryable: false }, durationMs)
      return draft.done()
    }
    const count = countOutput(stage.metadata.count, result.output ?? null)
    draft.record = { ...draft.record, state: applied.state as RunDoc["state"] }
    draft.stage(stage.name, { status: "succeeded", finishedAt: now, count, durationMs, executorId: result.executorId })
    draft.event({
      kind: "stage.finished",
      stage: stage.name,
      stageType: stage.metadata.type,
      attempt: stage.attempt,
      executorId: result.executorId,
      durationMs,
      count
    })
    advance(draft)
    return draft.done()
  }
  fail(draft, { ...stage, executorId: result.executorId }, result.error ?? { tag: "StageError", message: "the stage failed without an error", retryable: true }, durationMs)
  return draft.done()
}

const fail = (draft: Draft, stage: StageDoc, error: FailureDoc, durationMs: number): void => {
  const policy = definitionOf(draft.record, stage.name).retries
  const maxAttempts = policy?.max_attempts ?? 1
  const willRetry = error.retryable && stage.attempt < maxAttempts
  draft.event({
    kind: "stage.failed",
    stage: stage.name,
    stageType: stage.metadata.type,
    attempt: stage.attempt,
    ...(stage.executorId === undefined ? {} : { executorId: stage.executorId }),
    durationMs,
    error: { tag: error.tag, message: error.message }
  })
  if (willRetry) {
    const base = policy?.backoff_ms ?? defaultBackoffMs
    const factor = policy?.factor ?? defaultFactor
    const delay = Math.min(policy?.max_backoff_ms ?? defaultMaxBackoffMs, base * factor ** (stage.attempt - 1))
    const at = draft.now + delay
    draft.stage(stage.name, { status: "retrying", retryAt: at, error, durationMs })
    draft.event({ kind: "stage.retrying", stage: stage.name, stageType: stage.metadata.type, attempt: stage.attempt + 1, retryInMs: delay })
    draft.timers.push({ stage: stage.name, at })
    return
  }
  draft.stage(stage.name, { status: "failed", finishedAt: draft.now, error, durationMs })
  finish(draft, "failed", {
    tag: error.tag,
    message: `stage "${stage.name}" failed after ${stage.attempt} attempt${stage.attempt === 1 ? "" : "s"}: ${error.message}`,
    retryable: false
  })
}

/** Dispatches the next attempt of a retrying stage; `undefined` when no longer due. */
export const onRetryDue = (record: RunDoc, stageName: string, now: number): Transition | undefined => {
  const stage = record.stages[stageName]
  if (record.status !== "running" || stage === undefined || stage.status !== "retrying") return undefined
  const draft = new Draft(record, now)
  const { retryAt: _, ...rest } = stage
  const next: StageDoc = { ...rest, status: "dispatched", attempt: stage.attempt + 1 }
  draft.record = { ...draft.record, stages: { ...draft.record.stages, [stageName]: next } }
  draft.event({ kind: "stage.started", stage: stageName, stageType: stage.metadata.type, attempt: next.attempt })
  draft.dispatch.push(taskFor(draft.record, next))
  return draft.done()
}

/** Cancels a running run; `undefined` when it already finished. */
export const cancel = (record: RunDoc, reason: string, now: number): Transition | undefined => {
  if (record.status !== "running") return undefined
  const draft = new Draft(record, now)
  finish(draft, "cancelled", { tag: "RunCancelledError", message: reason, retryable: false })
  return draft.done()
}

/** Merges ledger fields into a run. */
export const updateLedger = (record: RunDoc, fields: Readonly<Record<string, unknown>>, now: number): Transition => {
  const draft = new Draft(record, now)
  draft.record = { ...record, ledger: { ...record.ledger, ...fields } as RunDoc["ledger"] }
  return draft.done()
}

/** What a resumed run still owes: tasks in flight (re-sent; deduplicated by id) and retry timers. */
export const resume = (record: RunDoc, now: number): Transition => {
  const draft = new Draft(record, now)
  if (record.status !== "running") return draft.done()
  for (const stage of Object.values(record.stages)) {
    if (stage.status === "dispatched") draft.dispatch.push(taskFor(record, stage))
    if (stage.status === "retrying") draft.timers.push({ stage: stage.name, at: stage.retryAt ?? now })
  }
  advance(draft)
  return draft.done()
}
