/**
 * The end-of-run summary the `run` command prints: the pipeline's own
 * `summary:` lines (each a label and a template over the final run state,
 * inputs and ledger; a list shows as its length, also when the state holds
 * it as a blob reference, and a path into a stored value shows the value
 * there, read from the blob store), then every stage with its type, output
 * count and time.
 */
import { Effect } from "effect"
import { resolve } from "@switchyard/bus/BlobJson"
import type { BlobStore } from "@switchyard/bus/BlobStore"
import { isBlobRef, isDeferredText, isPartRef } from "@switchyard/schemas/Blob"
import type { Pipeline } from "@switchyard/schemas/Pipeline"
import type { RunEvent } from "@switchyard/schemas/Run"
import { resolveTemplates, type TemplateScope } from "../../scheduler/internal/template.ts"
import { formatMs } from "./progress.ts"

interface StageLine {
  readonly name: string
  readonly type: string
  status: string
  count?: number
  durationMs?: number
}

/** How one value shows in the summary; a list stored as a blob shows its length too. */
const shown = (value: unknown): string => {
  if (Array.isArray(value)) return String(value.length)
  if (isBlobRef(value)) return value.length === undefined ? `${value.size} bytes in blob ${value.$blob}` : String(value.length)
  if (typeof value === "string") return value
  const json = JSON.stringify(value) ?? "none"
  return json.length > 80 ? `${json.slice(0, 77)}...` : json
}

const table = (rows: ReadonlyArray<ReadonlyArray<string>>, rightAligned: ReadonlySet<number>): Array<string> => {
  const widths = rows[0]?.map((_, column) => Math.max(...rows.map((row) => row[column]!.length))) ?? []
  return rows.map((row) =>
    row
      .map((cell, column) => (rightAligned.has(column) ? cell.padStart(widths[column]!) : cell.padEnd(widths[column]!)))
      .join("  ")
      .trimEnd()
  )
}

/** Follows a run's events and renders its summary once it finished. */
export const makeSummary = (pipeline: Pipeline) => {
  const stages = new Map<string, StageLine>(
    pipeline.stages.map((stage) => [stage.name, { name: stage.name, type: stage.type, status: "pending" }] as const)
  )
  /** One summary line's value; a path into a stored value, or text around one, is read (shown as it is if it cannot be). */
  const valueOf = (template: string, scope: TemplateScope): Effect.Effect<unknown, never, BlobStore> => {
    const value = resolveTemplates(template, scope)
    const stored = (isBlobRef(value) && isPartRef(value)) || isDeferredText(value)
    return stored ? Effect.orElseSucceed(resolve(value), () => value) : Effect.succeed(value)
  }
  const stageRows = () =>
    [...stages.values()].map((line) => [
      `  ${line.name}`,
      line.type,
      line.status,
      line.count === undefined ? "" : `${line.count} out`,
      line.durationMs === undefined ? "" : formatMs(line.durationMs)
    ])
  return {
    observe: (event: RunEvent): void => {
      const line = "stage" in event ? stages.get(event.stage) : undefined
      if (line === undefined) return
      if (event.kind === "stage.finished") {
        line.status = "succeeded"
        if (event.count !== undefined) line.count = event.count
        if (event.durationMs !== undefined) line.durationMs = event.durationMs
      } else if (event.kind === "stage.failed" || event.kind === "stage.skipped" || event.kind === "stage.waiting") {
        line.status = event.kind.slice("stage.".length)
      }
    },
    /** The summary text for a finished run. */
    render: (finished: {
      readonly runId: string
      readonly state: Readonly<Record<string, unknown>>
      readonly inputs: Readonly<Record<string, unknown>>
      readonly ledger: Readonly<Record<string, unknown>>
    }): Effect.Effect<string, never, BlobStore> => {
      const scope = { state: finished.state, inputs: finished.inputs, ledger: finished.ledger, run: { id: finished.runId } }
      return Effect.forEach(Object.entries(pipeline.summary ?? {}), ([label, template]) =>
        Effect.map(valueOf(template, scope), (value) => [`  ${label}`, shown(value)])
      ).pipe(
        Effect.map((lines) => {
          const summary = lines.length === 0 ? [] : ["summary:", ...table(lines, new Set([1]))]
          return [...summary, "stages:", ...table(stageRows(), new Set([3, 4]))].join("\n") + "\n"
        })
      )
    }
  }
}
