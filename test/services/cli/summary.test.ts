import { describe, expect, it } from "vitest"
import { Schema } from "effect"
import { Pipeline } from "../../../schemas/Pipeline.ts"
import { RunEvent } from "../../../schemas/Run.ts"
import { makeSummary } from "../../../services/cli/internal/summary.ts"
import { makeEvent } from "../../support/events.ts"

const pipeline = Schema.decodeUnknownSync(Pipeline)({
  name: "p",
  stages: [
    { name: "ingest", type: "ingest" },
    { name: "chunk", type: "core/core.chunk", depends_on: ["ingest"] },
    { name: "gate", type: "gate", depends_on: ["chunk"] }
  ],
  summary: { documents: "{{ state.payloads }}", "vectors indexed": "{{ state.receipt.chunks_indexed }}", who: "{{ inputs.who }}" }
})

const event = (seq: number, fields: Record<string, unknown>) =>
  makeEvent({
    version: 1,
    runId: "r",
    seq,
    at: seq,
    kind: "stage.finished",
    stageType: "t",
    attempt: 1,
    executorId: "e",
    ...fields
  } as typeof RunEvent.Encoded)

describe("run summary", () => {
  it("renders the pipeline's summary lines over the final state, then each stage with its count and time", () => {
    const summary = makeSummary(pipeline)
    summary.observe(event(1, { stage: "ingest", count: 3, durationMs: 12 }))
    summary.observe(event(2, { stage: "chunk", count: 41, durationMs: 1500 }))
    summary.observe(event(3, { kind: "stage.waiting", stage: "gate", waiting: { message: "waits", unmet: [] } }))
    const text = summary.render({
      runId: "r",
      state: { payloads: [1, 2, 3], receipt: { chunks_indexed: 41 } },
      inputs: { who: "ada" },
      ledger: {}
    })
    expect(text).toBe(
      [
        "summary:",
        "  documents          3",
        "  vectors indexed   41",
        "  who              ada",
        "stages:",
        "  ingest  ingest           succeeded   3 out   12ms",
        "  chunk   core/core.chunk  succeeded  41 out  1.50s",
        "  gate    gate             waiting",
        ""
      ].join("\n")
    )
  })
})
