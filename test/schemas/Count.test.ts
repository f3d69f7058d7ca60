import { describe, expect, it } from "vitest"
import { makeBlobRef } from "../../schemas/Blob.ts"
import { countOutput } from "../../schemas/Count.ts"

const ref = (length?: number) => makeBlobRef({ sha256: "a".repeat(64), size: 4096, mediaType: "application/json", length })

describe("output counts", () => {
  it("counts a list stored as a blob by the length its reference carries, inside a field too", () => {
    expect(countOutput("length", ref(19))).toBe(19)
    expect(countOutput("length(entities) + length(claims)", { entities: ref(54), claims: [1, 2] })).toBe(56)
  })

  it("counts a reference without a length (not a list) as 0", () => {
    expect(countOutput("length", ref())).toBe(0)
  })
})
