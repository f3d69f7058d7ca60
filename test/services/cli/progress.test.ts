import { describe, expect, it } from "vitest"
import type { RunEvent } from "../../../schemas/Run.ts"
import { makeRenderer } from "../../../services/cli/internal/progress.ts"

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
