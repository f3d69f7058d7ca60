/**
 * The wire form of a task's result: the outcome a stage ended with and what
 * the executor knows of the task, encoded as `TaskResult/1` by the
 * `TaskResult` schema itself, so a schema change needs nothing here.
 */
import type { Schema } from "effect"
import type { Headers } from "@switchyard/bus/Bus"
import * as Codec from "@switchyard/schemas/Codec"
import { WireType } from "@switchyard/schemas/Catalog"
import type { TaskFailure, TaskMetrics, TaskWaiting } from "@switchyard/schemas/Task"
import { makeTaskResult, TaskResult } from "@switchyard/schemas/Task"

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
  | { readonly status: "succeeded"; readonly output: Schema.Json; readonly count?: number }
  | { readonly status: "failed"; readonly error: TaskFailure }
  | { readonly status: "waiting"; readonly waiting: TaskWaiting }
) & { readonly metrics?: TaskMetrics }

/** Encodes a result as `TaskResult/1`; an output that is not JSON throws, as constructing a `TaskResult` does. */
export const encodeTaskResult = (fields: ResultFields, outcome: Outcome): { readonly data: Uint8Array; readonly headers: Headers } =>
  Codec.encode(TaskResult, WireType.TaskResult, makeTaskResult({ version: 1, ...fields, ...outcome }))
