import { describe, expect, it } from "@effect/vitest"
import { resolveTemplates } from "../../../services/scheduler/internal/template.ts"

const scope = {
  inputs: {},
  state: {},
  ledger: {},
  run: { id: "r-1" },
  items: [{ source: "a.md" }, { source: "b.md" }],
  item: { source: "a.md" }
}

describe("templates of a for_each task", () => {
  it("gives {{ items }} the task's items, {{ item }} its one item and {{ item.source }} a field of it", () => {
    expect(
      resolveTemplates({ all: "{{ items }}", one: "{{ item }}", source: "{{ item.source }}", text: "from {{ item.source }}" }, scope)
    ).toEqual({ all: [{ source: "a.md" }, { source: "b.md" }], one: { source: "a.md" }, source: "a.md", text: "from a.md" })
  })
})
