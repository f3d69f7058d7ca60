import { describe, expect, it } from "vitest"
import type { RunEvent } from "../../../schemas/Run.ts"
import { makeRenderer, runDurationMs } from "../../../services/cli/internal/progress.ts"

const unschedulable: typeof RunEvent.Encoded = {
  version: 1,
  runId: "r-1",
  seq: 4,
  at: 0,
  kind: "stage.unschedulable",
  stage: "greet",
  stageType: "hello.greet",
  attempt: 1,
  pool: "greeters",
  message: "unschedulable: no live executor serves pool greeters"
}

describe("run progress", () => {
  it("prints an unschedulable stage with the reason in plain output", () => {
    expect(makeRenderer("plain", ["greet"]).render(unschedulable)).toBe(
      "stage greet unschedulable: no live executor serves pool greeters\n"
    )
  })

  it("marks an unschedulable stage stuck, with the reason, in the live table", () => {
    const row = makeRenderer("live", ["greet"])
      .render(unschedulable)
      .split("\n")
      .find((line) => line.includes("greet"))
    expect(row).toContain("stuck")
    expect(row).toContain("unschedulable: no live executor serves pool greeters")
  })
})

describe("run duration", () => {
  it("takes both ends from the run record, never from the clock of the CLI", () => {
    expect(runDurationMs({ record: { createdAt: 10_000, finishedAt: 10_250 }, startedAt: 10_004, finishedAt: 10_251 })).toBe(250)
  })

  it("falls back to the run's own events when there is no record or it has no finish time", () => {
    expect(runDurationMs({ record: undefined, startedAt: 5_000, finishedAt: 5_040 })).toBe(40)
    expect(runDurationMs({ record: { createdAt: 4_990 }, startedAt: 5_000, finishedAt: 5_040 })).toBe(50)
  })
})
