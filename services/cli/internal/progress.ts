/**
 * Renders run events for a terminal: a live per-stage table on a TTY
 * (state, attempt, duration, output count, items done of a `for_each` stage
 * such as `1,234/10,000`, and why a stage waits or is stuck), plain lines
 * otherwise (a `for_each` stage's progress at every tenth of its items), or
 * one JSON object per event with `--json`.
 */
import type { RunEvent } from "@switchyard/schemas/Run"

type Event = typeof RunEvent.Encoded

interface Row {
  state: string
  attempt: number
  durationMs?: number
  count?: number
  /** `done/total` items of a `for_each` stage. */
  items?: string
  note?: string
}

/** Output format of `switchyard run`. */
export type Format = "live" | "plain" | "json"

/** Turns events into text; `render` returns what to write for one event. */
export interface Renderer {
  readonly render: (event: Event) => string
}

const symbols: Record<string, string> = {
  waiting: "·",
  running: "▶",
  succeeded: "✔",
  failed: "✖",
  retrying: "↻",
  stuck: "!",
  skipped: "-"
}

/** `850ms`, `1.25s`. */
export const formatMs = (ms: number): string => (ms < 1000 ? `${Math.round(ms)}ms` : `${(ms / 1000).toFixed(2)}s`)

/**
 * How long a run took, both ends read from the scheduler's clock: its record's
 * `createdAt` (else its `run.started` event) to its record's `finishedAt`
 * (else its `run.finished` event). The CLI's own clock is never one of the
 * ends: it starts reading events only once the submit is answered, after a
 * quick run may have finished.
 */
export const runDurationMs = (options: {
  readonly record: { readonly createdAt: number; readonly finishedAt?: number } | undefined
  readonly startedAt: number | undefined
  readonly finishedAt: number
}): number => {
  const start = options.record?.createdAt ?? options.startedAt ?? options.finishedAt
  return (options.record?.finishedAt ?? options.finishedAt) - start
}

const seconds = (ms: number | undefined) => (ms === undefined ? "" : formatMs(ms))

/** A renderer for the given format and the pipeline's stage names (in file order). */
export const makeRenderer = (format: Format, stageNames: ReadonlyArray<string>): Renderer => {
  if (format === "json") return { render: (event) => `${JSON.stringify(event)}\n` }
  if (format === "plain") return plainRenderer()
  const rows = new Map<string, Row>(stageNames.map((name) => [name, { state: "pending", attempt: 0 }]))
  let drawn = 0
  let footer = ""
  const width = Math.max(5, ...stageNames.map((name) => name.length))
  return {
    render: (event) => {
      const stage = stageOf(event)
      const row = stage === undefined ? undefined : rows.get(stage)
      if (row !== undefined) updateRow(row, event)
      if (event.kind === "run.finished") footer = finishedLine(event)
      const lines = [...rows].map(
        ([name, r]) =>
          `${symbols[r.state] ?? " "} ${name.padEnd(width)}  ${r.state.padEnd(9)}  ${r.attempt > 1 ? `attempt ${r.attempt}  ` : ""}${seconds(r.durationMs).padStart(6)}  ${
            r.count === undefined ? "" : `${r.count} out`
          }${r.items === undefined ? "" : `  ${r.items}`}${r.note === undefined ? "" : `  ${r.note}`}`
      )
      if (footer !== "") lines.push(footer)
      const rewind = drawn > 0 ? `\x1b[${drawn}A` : ""
      drawn = lines.length
      return `${rewind}${lines.map((line) => `\x1b[2K${line}`).join("\n")}\n`
    }
  }
}

const updateRow = (row: Row, event: Event): void => {
  switch (event.kind) {
    case "stage.started":
      row.state = "running"
      row.attempt = event.attempt ?? 1
      delete row.note
      break
    case "stage.progress":
      row.items = itemsDone(event)
      break
    case "stage.finished":
      row.state = "succeeded"
      if (event.durationMs !== undefined) row.durationMs = event.durationMs
      if (event.count !== undefined) row.count = event.count
      break
    case "stage.failed":
      if (event.item !== undefined) {
        row.note = `task ${event.item}${event.skipped === true ? " skipped" : ""}: ${event.error.tag}: ${event.error.message}`
        break
      }
      row.state = "failed"
      if (event.durationMs !== undefined) row.durationMs = event.durationMs
      if (event.error !== undefined) row.note = `${event.error.tag}: ${event.error.message}`
      break
    case "stage.retrying":
      if (event.item !== undefined) {
        row.note = `task ${event.item} retry in ${seconds(event.retryInMs)}`
        break
      }
      row.state = "retrying"
      row.note = `retry in ${seconds(event.retryInMs)}`
      break
    case "stage.waiting":
      row.state = "waiting"
      row.note = waitingNote(event)
      break
    case "stage.unschedulable":
      row.state = "stuck"
      row.note = event.message ?? ""
      break
    case "stage.skipped":
      row.state = "skipped"
      break
  }
}

/** The stage an event is about, for the kinds that are about one. */
const stageOf = (event: Event): string | undefined => ("stage" in event ? event.stage : undefined)

const waitingNote = (event: Extract<Event, { readonly kind: "stage.waiting" }>): string =>
  `${event.waiting.message}; unmet: ${event.waiting.unmet.join("; ")}`

/** ` (trace <id>)` when the run was traced: the id to search in a tracing UI. */
const traceNote = (event: { readonly traceId?: string | undefined }): string =>
  event.traceId === undefined ? "" : ` (trace ${event.traceId})`

const finishedLine = (event: Extract<Event, { readonly kind: "run.finished" }>): string =>
  `run ${event.runId} ${event.status}${traceNote(event)}${event.error === undefined ? "" : `: ${event.error.tag}: ${event.error.message}`}`

const number = new Intl.NumberFormat("en")

/** `1,234/10,000` (and how many were skipped). */
const itemsDone = (event: Extract<Event, { readonly kind: "stage.progress" }>): string =>
  `${number.format(event.done)}/${number.format(event.total)}${event.skipped > 0 ? ` (${number.format(event.skipped)} skipped)` : ""}`

/** Plain lines; a `for_each` stage's progress only when it passes another tenth of its items. */
const plainRenderer = (): Renderer => {
  const tenths = new Map<string, number>()
  return {
    render: (event) => {
      if (event.kind !== "stage.progress") return plainLine(event)
      const tenth = event.total === 0 ? 10 : Math.floor((event.done * 10) / event.total)
      if (tenth <= (tenths.get(event.stage) ?? 0)) return ""
      tenths.set(event.stage, tenth)
      return `stage ${event.stage} ${itemsDone(event)} items\n`
    }
  }
}

const plainLine = (event: Event): string => {
  const name = stageOf(event)
  const stage = name === undefined ? "" : ` ${name}`
  switch (event.kind) {
    case "run.started":
      return `run ${event.runId} started${traceNote(event)}\n`
    case "stage.started":
      return `stage${stage} started (attempt ${event.attempt ?? 1})\n`
    case "stage.finished":
      return `stage${stage} succeeded in ${seconds(event.durationMs)}, ${event.count ?? 0} out\n`
    case "stage.failed":
      return `stage${stage}${event.item === undefined ? "" : ` task ${event.item}`} ${event.skipped === true ? "skipped after failing" : "failed"} (attempt ${event.attempt ?? 1}): ${event.error?.tag}: ${event.error?.message}\n`
    case "stage.retrying":
      return `stage${stage}${event.item === undefined ? "" : ` task ${event.item}`} retrying in ${seconds(event.retryInMs)} (attempt ${event.attempt})\n`
    case "stage.progress":
      return `stage${stage} ${itemsDone(event)} items\n`
    case "stage.waiting":
      return `stage${stage} waiting: ${waitingNote(event)}\n`
    case "stage.unschedulable":
      return `stage${stage} ${event.message ?? "unschedulable"}\n`
    case "stage.skipped":
      return `stage${stage} skipped\n`
    case "run.finished":
      return `${finishedLine(event)}\n`
  }
}
