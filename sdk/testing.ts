/**
 * Test helpers for plugin authors: `runAction` runs an action in the test's
 * own process, without NATS or a child process, and returns its
 * `ActionResult` exactly as the runner would frame it. Log lines are kept in
 * `logs` instead of going to stderr.
 */
import { mkdtemp } from "node:fs/promises"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { Effect } from "effect"
import type { ActionResult } from "@switchyard/schemas/WorkerProtocol"
import type { ActionDefinition } from "./defineAction.ts"
import { makePluginLogger } from "./defineAction.ts"

/** What `runAction` takes besides the action and its input. */
export interface RunActionOptions {
  readonly vars?: Record<string, string>
  readonly secrets?: Record<string, string>
  /** @default a fresh temporary directory */
  readonly workDir?: string
  /** Aborts the action's signal. */
  readonly signal?: AbortSignal
  /** @default "test-task" */
  readonly taskId?: string
  /** @default "test-run" */
  readonly runId?: string
  /** @default 1 */
  readonly attempt?: number
}

/** An action's result with the structured log entries it wrote. */
export type RunActionResult = ActionResult & { readonly logs: ReadonlyArray<Record<string, unknown>> }

/** Runs an action in-process and returns its result; never rejects for an action failure. */
export const runAction = (action: ActionDefinition, input: unknown, options: RunActionOptions = {}): Promise<RunActionResult> =>
  Effect.runPromise(runActionEffect(action, input, options))

/** `runAction` as an Effect. */
export const runActionEffect = (action: ActionDefinition, input: unknown, options: RunActionOptions = {}): Effect.Effect<RunActionResult> =>
  Effect.gen(function* () {
    const logs: Array<Record<string, unknown>> = []
    const workDir = options.workDir ?? (yield* Effect.promise(() => mkdtemp(join(tmpdir(), "switchyard-action-test-"))))
    const result = yield* action.execute(input, {
      log: makePluginLogger((line) => logs.push(JSON.parse(line) as Record<string, unknown>)),
      vars: options.vars ?? {},
      secrets: options.secrets ?? {},
      workDir,
      signal: options.signal ?? new AbortController().signal,
      taskId: options.taskId ?? "test-task",
      runId: options.runId ?? "test-run",
      attempt: options.attempt ?? 1
    })
    return { ...result, logs }
  })
