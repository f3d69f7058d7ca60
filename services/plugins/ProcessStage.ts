/**
 * Stage definitions for a process plugin: each action of a loaded manifest
 * becomes a stage type the executor serves like any other, and every task of
 * it runs in a child process through the process runtime (its own process
 * group, an environment limited to what the manifest declares, a temporary
 * work directory, the stage's timeout): a fresh process per task, or, when
 * the manifest declares `pool`, one of the plugin's warm pool of long-lived
 * processes shared by all its actions. The pool lives as long as the scope
 * the definitions are made in (the executor's), which kills its processes
 * when it closes. Inputs and outputs are checked by the action's own schemas
 * inside the child; the JSON Schemas the stage metadata advertises are derived
 * from those schemas when the definitions are made (`checkEntryModule`). The
 * process gets the task's trace context (the span the executor runs the task
 * in) as TRACEPARENT, and no such variable when the task runs outside any
 * span. What the runtime measured (duration, exit code, signal, peak memory)
 * is reported to the executor for the task's result, whether the task
 * succeeded or failed.
 */
import { resolve } from "node:path"
import { Effect, Option, Schema } from "effect"
import type { Duration, Scope } from "effect"
import { makeProcessPool, runInProcess } from "../runtimes/index.ts"
import { traceparentOf } from "@switchyard/schemas/TraceContext"
import type { PluginTask } from "../runtimes/index.ts"
import { StageFailure, StageOutcome } from "@switchyard/schemas/Stage"
import type { StageDefinition, StageTaskInfo } from "@switchyard/schemas/Stage"
import { TaskMetrics } from "@switchyard/schemas/Task"
import type { ProcessMetrics } from "../runtimes/index.ts"
import { checkEntryModule } from "./ManifestLoader.ts"
import type { LoadedManifest } from "./ManifestLoader.ts"

/** Options of `processStages`. */
export interface ProcessStageOptions {
  /** Vars handed to every action, under the task's own (which the executor merges). @default {} */
  readonly vars?: Readonly<Record<string, string>>
  /** Time between SIGTERM and SIGKILL of a timed-out task's process group. @default 2 seconds */
  readonly killGrace?: Duration.Input
  /** Largest result a task may write. @default 1 MiB */
  readonly maxOutputBytes?: number
}

/** The wire form of a plugin process's measurements: what was not measured is left out. */
const taskMetrics = (metrics: ProcessMetrics): TaskMetrics =>
  new TaskMetrics({
    durationMs: metrics.durationMs,
    ...(metrics.exitCode === null ? {} : { exitCode: metrics.exitCode }),
    ...(metrics.signal === null ? {} : { signal: metrics.signal }),
    ...(metrics.peakMemoryBytes === null ? {} : { peakRssBytes: metrics.peakMemoryBytes })
  })

/** The stage definitions of a `runtime: process` plugin; none for another runtime. */
export const processStages = (
  loaded: LoadedManifest,
  options: ProcessStageOptions = {}
): Effect.Effect<ReadonlyArray<StageDefinition>, never, Scope.Scope> =>
  Effect.gen(function* () {
    const { manifest } = loaded
    if (manifest.runtime !== "process" || manifest.entry === undefined) return []
    // The registry advertises the JSON Schemas derived from the actions' own schemas. A plugin whose
    // entry does not check out is still served as its manifest says: its tasks fail with the reason.
    const checked = yield* checkEntryModule(loaded).pipe(
      Effect.catch((error) => Effect.logWarning(`plugin ${loaded.file}: ${error.message}`).pipe(Effect.as(loaded)))
    )
    const processes = {
      entry: resolve(loaded.dir, manifest.entry),
      env: manifest.capabilities?.env ?? [],
      ...(options.killGrace === undefined ? {} : { killGrace: options.killGrace }),
      ...(options.maxOutputBytes === undefined ? {} : { maxOutputBytes: options.maxOutputBytes })
    }
    const pool =
      manifest.pool === undefined
        ? undefined
        : yield* makeProcessPool({
            ...processes,
            size: manifest.pool.size,
            ...(manifest.pool.maxTasksPerProcess === undefined ? {} : { maxTasksPerProcess: manifest.pool.maxTasksPerProcess })
          })
    const run = (task: PluginTask) => (pool === undefined ? runInProcess({ ...task, ...processes }) : pool.run(task))
    const traceparent = Effect.option(Effect.map(Effect.currentParentSpan, traceparentOf))
    return manifest.stages.map((stage, index): StageDefinition => {
      const metadata = checked.stages[index]!
      const execute = (rawInput: unknown, info: StageTaskInfo) =>
        Effect.flatMap(traceparent, (trace) =>
          run({
            action: stage.name,
            input: rawInput,
            taskId: info.taskId,
            runId: info.runId,
            attempt: info.attempt,
            // The executor's merged vars for this task, over any the definitions were made with.
            vars: info.vars === undefined ? (options.vars ?? {}) : { ...options.vars, ...info.vars },
            // The declared secrets the executor resolved from its own source for this task.
            secrets: info.secrets ?? {},
            ...(Option.isSome(trace) ? { traceparent: trace.value } : {}),
            timeout: metadata.timeoutMs
          })
        ).pipe(
          Effect.tap((outcome) => Effect.sync(() => info.reportMetrics?.(taskMetrics(outcome.metrics)))),
          Effect.flatMap((outcome) =>
            outcome.status === "succeeded"
              ? Effect.succeed(StageOutcome.done(outcome.output as Schema.Json))
              : Effect.fail(
                  new StageFailure({
                    stageType: metadata.type,
                    tag: outcome.error.tag,
                    message: outcome.error.message,
                    retryable: outcome.error.retryable
                  })
                )
          )
        )
      return { metadata, inputs: Schema.Unknown, outputs: Schema.Unknown, execute }
    })
  })
