/**
 * Readers of a `TaskResult` for assertions: the error of a failed result and
 * the output of a succeeded one, `undefined` for the other kinds, so a test
 * that expects one kind fails on another instead of narrowing by hand.
 */
import type { Schema } from "effect"
import type { TaskFailure, TaskResult } from "../../schemas/Task.ts"

/** The error of a failed result. */
export const errorOf = (result: TaskResult): TaskFailure | undefined => (result.status === "failed" ? result.error : undefined)

/** The output of a succeeded result (`null` when it sent none). */
export const outputOf = (result: TaskResult): Schema.Json | undefined =>
  result.status === "succeeded" ? (result.output ?? null) : undefined
