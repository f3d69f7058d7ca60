import { describe, expect, it } from "@effect/vitest"
import { Effect, Schema } from "effect"
import { externalize } from "../../../services/bus/BlobJson.ts"
import { BlobStore } from "../../../services/bus/BlobStore.ts"
import * as MemoryBlobStore from "../../../services/bus/MemoryBlobStore.ts"
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
  it.effect("renders the pipeline's summary lines over the final state, then each stage with its count and time", () =>
    Effect.gen(function* () {
      const summary = makeSummary(pipeline)
      summary.observe(event(1, { stage: "ingest", count: 3, durationMs: 12 }))
      summary.observe(event(2, { stage: "chunk", count: 41, durationMs: 1500 }))
      summary.observe(event(3, { kind: "stage.waiting", stage: "gate", waiting: { message: "waits", unmet: [] } }))
      const text = yield* summary
        .render({
          runId: "r",
          state: { payloads: [1, 2, 3], receipt: { chunks_indexed: 41 } },
          inputs: { who: "ada" },
          ledger: {}
        })
        .pipe(Effect.provideService(BlobStore, MemoryBlobStore.make()))
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
  )

  it.effect("reads paths into values stored as blobs, and shows a stored list by its length", () =>
    Effect.gen(function* () {
      const store = MemoryBlobStore.make()
      const payloads = Array.from({ length: 2000 }, (_, index) => ({ title: `document ${index}`, body: "x".repeat(40) }))
      const receipt = { chunks_indexed: 41, log: "y".repeat(70_000) }
      const state = yield* externalize({ payloads, receipt }, 64 * 1024).pipe(Effect.provideService(BlobStore, store))
      const stored = Schema.decodeUnknownSync(Pipeline)({
        ...pipeline,
        summary: {
          documents: "{{ state.payloads }}",
          count: "{{ state.payloads.length }}",
          last: "{{ state.payloads.1999.title }}",
          "vectors indexed": "indexed {{ state.receipt.chunks_indexed }}"
        }
      })
      const text = yield* makeSummary(stored)
        .render({ runId: "r", state: state as Record<string, unknown>, inputs: {}, ledger: {} })
        .pipe(Effect.provideService(BlobStore, store))
      expect(text.split("stages:")[0]).toBe(
        [
          "summary:",
          "  documents                 2000",
          "  count                     2000",
          "  last             document 1999",
          "  vectors indexed     indexed 41",
          ""
        ].join("\n")
      )
    })
  )
})
