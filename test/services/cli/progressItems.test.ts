import { describe, expect, it } from "vitest"
import type { RunEvent } from "../../../schemas/Run.ts"
import { makeRenderer } from "../../../services/cli/internal/progress.ts"

const progress = (done: number, total: number, skipped = 0): typeof RunEvent.Encoded => ({
  version: 1,
  runId: "r-1",
  seq: done + 3,
  at: 0,
  kind: "stage.progress",
  stage: "parse",
  stageType: "core/core.parse",
  done,
  total,
  skipped,
  count: done
})

describe("run progress of a for_each stage", () => {
  it("prints a plain line only when the items done pass another tenth of the total", () => {
    const renderer = makeRenderer("plain", ["parse"])
    const printed = [0, 8, 16, 1_000, 1_008, 2_500, 10_000].map((done) => renderer.render(progress(done, 10_000)))
    expect(printed).toEqual([
      "",
      "",
      "",
      "stage parse 1,000/10,000 items\n",
      "",
      "stage parse 2,500/10,000 items\n",
      "stage parse 10,000/10,000 items\n"
    ])
  })

  it("shows the items done, and how many were skipped, in the stage's row of the live table", () => {
    const row = makeRenderer("live", ["parse"])
      .render(progress(1_234, 10_000, 8))
      .split("\n")
      .find((line) => line.includes("parse"))
    expect(row).toContain("1,234/10,000 (8 skipped)")
  })
})
