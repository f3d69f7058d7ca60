/**
 * The wire bytes of a `TaskResult`, built straight from the fields the
 * executor already holds (the decoded task, its own settings, the stage's
 * JSON output) in the schema's field order, so they are byte for byte what
 * encoding a `TaskResult` with its schema gives. An output the fast check
 * cannot vouch for (not plain JSON, or nested very deep) goes through the
 * schema, which rejects it exactly as constructing a `TaskResult` does.
 */
import type { Schema } from "effect"
import type { Headers } from "@switchyard/bus/Bus"
import * as Codec from "@switchyard/schemas/Codec"
import { WireType } from "@switchyard/schemas/Catalog"
import type { TaskFailure, TaskMetrics, TaskWaiting } from "@switchyard/schemas/Task"
import { TaskResult } from "@switchyard/schemas/Task"

/** What a result says besides its outcome. */
export interface ResultFields {
  readonly taskId: string
  readonly runId: string
  readonly stage: string
  readonly stageType: string
  readonly attempt: number
  readonly executorId: string
  readonly pool: string
  readonly durationMs: number
}

/** How the stage ended, with what its runtime measured when it measures anything. */
export type Outcome = (
  | { readonly status: "succeeded"; readonly output: Schema.Json }
  | { readonly status: "failed"; readonly error: TaskFailure }
  | { readonly status: "waiting"; readonly waiting: TaskWaiting }
) & { readonly metrics?: TaskMetrics }

/** The plain JSON of the metrics, keys in the schema's order. */
const metricsJson = (metrics: TaskMetrics) => ({
  durationMs: metrics.durationMs,
  ...(metrics.exitCode === undefined ? {} : { exitCode: metrics.exitCode }),
  ...(metrics.signal === undefined ? {} : { signal: metrics.signal }),
  ...(metrics.peakRssBytes === undefined ? {} : { peakRssBytes: metrics.peakRssBytes })
})

/** Deeper outputs are checked by the schema (which also detects cycles). */
const maxFastDepth = 32

/** True for values `Schema.Json` accepts, checked without allocating; false when unsure. */
const isPlainJson = (value: unknown, depth: number): boolean => {
  if (value === null) return true
  switch (typeof value) {
    case "string":
    case "boolean":
      return true
    case "number":
      return Number.isFinite(value)
    case "object": {
      if (depth >= maxFastDepth) return false
      if (Array.isArray(value)) {
        for (let i = 0; i < value.length; i++) if (!isPlainJson(value[i], depth + 1)) return false
        return true
      }
      const prototype = Object.getPrototypeOf(value)
      if (prototype !== null && prototype !== Object.prototype && Object.getPrototypeOf(prototype) !== null) return false
      for (const key of Object.keys(value)) {
        if (!isPlainJson((value as Record<string, unknown>)[key], depth + 1)) return false
      }
      return true
    }
    default:
      return false
  }
}

/** Encodes a result as `TaskResult/1`. */
export const encodeTaskResult = (fields: ResultFields, outcome: Outcome): { readonly data: Uint8Array; readonly headers: Headers } => {
  if (outcome.status === "waiting" || (outcome.status === "succeeded" && !isPlainJson(outcome.output, 0))) {
    return Codec.encode(TaskResult, WireType.TaskResult, new TaskResult({ version: 1, ...fields, ...outcome }))
  }
  const head = {
    version: 1,
    taskId: fields.taskId,
    runId: fields.runId,
    stage: fields.stage,
    stageType: fields.stageType,
    attempt: fields.attempt,
    executorId: fields.executorId,
    pool: fields.pool,
    status: outcome.status
  }
  const tail = outcome.metrics === undefined ? {} : { metrics: metricsJson(outcome.metrics) }
  // Keys in the schema's order, so the bytes match what the schema would produce.
  return Codec.encodePlain(
    WireType.TaskResult,
    outcome.status === "succeeded"
      ? { ...head, output: outcome.output, durationMs: fields.durationMs, ...tail }
      : {
          ...head,
          error: { tag: outcome.error.tag, message: outcome.error.message, retryable: outcome.error.retryable },
          durationMs: fields.durationMs,
          ...tail
        }
  )
}
