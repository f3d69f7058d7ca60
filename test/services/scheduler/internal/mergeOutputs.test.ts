import { describe, expect, it } from "@effect/vitest"
import { mergeOutputs } from "../../../../services/scheduler/internal/mergeOutputs.ts"

describe("merging a mapped merge stage's outputs", () => {
  it("merges the tasks' objects in task order over what the slot held", () => {
    expect(mergeOutputs([{ a: 1, b: 1 }, { b: 2 }, { c: 3 }], { a: 0, z: 9 })).toEqual({
      _tag: "Merged",
      value: { a: 1, b: 2, c: 3, z: 9 }
    })
    expect(mergeOutputs([{ a: 1 }], ["not", "an", "object"])).toEqual({ _tag: "Merged", value: { a: 1 } })
    expect(mergeOutputs([], undefined)).toEqual({ _tag: "Merged", value: {} })
  })

  it("refuses an output that is not an object, naming the task output", () => {
    expect(mergeOutputs([{ a: 1 }, [1, 2]], {})).toEqual({
      _tag: "Rejected",
      message: "output mode merge expects an object from every task; task output 1 is not one"
    })
  })
})
