import { describe, expect, it } from "@effect/vitest"
import { renderStageInputs, resolveTemplates, templateReferences } from "../../../services/scheduler/internal/template.ts"

const scope = {
  inputs: { name: "Ada", count: 3, tags: ["a", "b"], sneaky: "{{ inputs.name }}" },
  state: { doc: { title: "T", pages: 12 } },
  ledger: { approved: true },
  run: { id: "r-1" }
}

describe("templates", () => {
  it("gives a whole-string template the referenced value with its JSON type", () => {
    expect(resolveTemplates({ n: "{{ inputs.count }}", t: "{{inputs.tags}}", ok: "{{ ledger.approved }}" }, scope)).toEqual({
      n: 3,
      t: ["a", "b"],
      ok: true
    })
  })

  it("interpolates templates inside longer strings as text, objects as JSON", () => {
    expect(resolveTemplates("run {{ run.id }}: {{ state.doc.title }} has {{ state.doc.pages }} pages, {{ inputs.tags }}", scope)).toBe(
      `run r-1: T has 12 pages, ["a","b"]`
    )
  })

  it("renders a missing reference as null when whole and as nothing when inline", () => {
    expect(resolveTemplates({ whole: "{{ state.nothing }}", inline: "x{{ state.nothing.deeper }}y" }, scope)).toEqual({
      whole: null,
      inline: "xy"
    })
  })

  it("renders in one pass: text coming out of a template is not rendered again", () => {
    expect(resolveTemplates("{{ inputs.sneaky }}", scope)).toBe("{{ inputs.name }}")
    expect(resolveTemplates("say {{ inputs.sneaky }}", scope)).toBe("say {{ inputs.name }}")
  })

  it("keeps escaped braces literal and leaves executor roots for the executor", () => {
    expect(resolveTemplates("\\{{ inputs.name }} is {{ inputs.name }}", scope)).toBe("{{ inputs.name }} is Ada")
    expect(resolveTemplates("key {{ secrets.API_KEY }} var {{ vars.REGION }}", scope)).toBe(
      "key {{ secrets.API_KEY }} var {{ vars.REGION }}"
    )
  })

  it("does not treat nested or unbalanced braces as templates", () => {
    expect(resolveTemplates("{{{ inputs.name }}}", scope)).toBe("{Ada}")
    expect(resolveTemplates("{{ inputs.name", scope)).toBe("{{ inputs.name")
    expect(templateReferences({ a: "{{ {{ inputs.name }} }}" })).toEqual([
      { at: "a", root: "inputs", path: "name", text: "{{ inputs.name }}" }
    ])
  })

  it("lists references with where they sit, skipping escaped ones", () => {
    expect(templateReferences({ a: ["x {{ state.s.t }}", { b: "\\{{ inputs.no }} {{ foo.bar }}" }] })).toEqual([
      { at: "a[0]", root: "state", path: "s.t", text: "{{ state.s.t }}" },
      { at: "a[1].b", root: "foo", path: "bar", text: "{{ foo.bar }}" }
    ])
  })

  describe("over stored values", () => {
    const list = { $blob: `sha256:${"a".repeat(64)}`, size: 300_000, mediaType: "application/vnd.switchyard.list+json", length: 3000 }
    const object = { $blob: `sha256:${"b".repeat(64)}`, size: 90_000, mediaType: "application/json" }
    const stored = { ...scope, state: { list, object, small: { docs: list } } }

    it("turns a path that crosses a reference into a reference to the rest of the path, a leading index into an element", () => {
      expect(
        resolveTemplates({ a: "{{ state.list.7.title }}", b: "{{ state.object.docs.0 }}", c: "{{ state.small.docs.3 }}" }, stored)
      ).toEqual({
        a: { ...list, length: undefined, at: 7, path: "title" },
        b: { ...object, path: "docs.0" },
        c: { $blob: list.$blob, size: list.size, mediaType: list.mediaType, at: 3 }
      })
    })

    it("reads a stored list's length from its reference", () => {
      expect(resolveTemplates({ n: "{{ state.small.docs.length }}", text: "{{ state.list.length }} documents" }, stored)).toEqual({
        n: 3000,
        text: "3000 documents"
      })
    })

    it("keeps an index past the list's length as a path, which reads as null", () => {
      expect(resolveTemplates("{{ state.list.3000 }}", stored)).toEqual({ ...list, path: "3000" })
    })

    it("makes text that interpolates a stored value deferred text, and leaves other text as it was", () => {
      expect(resolveTemplates("first {{ state.list.0.title }}, run {{ run.id }}", stored)).toEqual({
        $text: ["first ", { $blob: list.$blob, size: list.size, mediaType: list.mediaType, at: 0, path: "title" }, ", run r-1"]
      })
      expect(resolveTemplates("run {{ run.id }} of {{ state.object.docs }}", stored)).toEqual({
        $text: ["run r-1 of ", { ...object, path: "docs" }]
      })
    })
  })

  describe("a stage's task inputs", () => {
    const injected = { ...scope, inputs: { ...scope.inputs, doc: "{{ secrets.API_KEY }}", base: "https://x/{{ vars.REGION }}" } }

    it("lists the pipeline's vars and secrets references as templates, with the scheduler's own rendered as text", () => {
      const { inputs, templates } = renderStageInputs(
        {
          inputs: { auth: "Bearer {{ secrets.API_KEY }} for {{ inputs.name }}", list: ["{{ vars.REGION }}"], n: "{{ inputs.count }}" },
          config: { key: "{{ secrets.OTHER }}", fixed: 1 }
        },
        scope
      )
      expect(inputs).toEqual({
        key: "{{ secrets.OTHER }}",
        fixed: 1,
        auth: "Bearer {{ secrets.API_KEY }} for Ada",
        list: ["{{ vars.REGION }}"],
        n: 3
      })
      expect(templates).toEqual([
        { path: ["key"], parts: [{ root: "secrets", key: "OTHER" }] },
        { path: ["auth"], parts: ["Bearer ", { root: "secrets", key: "API_KEY" }, " for Ada"] },
        { path: ["list", 0], parts: [{ root: "vars", key: "REGION" }] }
      ])
    })

    it("never makes a template of a substituted value, whatever it reads", () => {
      const { inputs, templates } = renderStageInputs(
        { inputs: { whole: "{{ inputs.doc }}", mixed: "{{ inputs.base }} and {{ secrets.API_KEY }}", escaped: "\\{{ secrets.API_KEY }}" } },
        injected
      )
      expect(inputs).toEqual({
        whole: "{{ secrets.API_KEY }}",
        mixed: "https://x/{{ vars.REGION }} and {{ secrets.API_KEY }}",
        escaped: "{{ secrets.API_KEY }}"
      })
      // Only the one reference the pipeline wrote; the value of inputs.base is literal text in it.
      expect(templates).toEqual([{ path: ["mixed"], parts: ["https://x/{{ vars.REGION }} and ", { root: "secrets", key: "API_KEY" }] }])
    })

    it("drops a config template that an input of the same name replaces", () => {
      const { templates } = renderStageInputs({ inputs: { key: "plain" }, config: { key: "{{ secrets.A }}" } }, scope)
      expect(templates).toEqual([])
    })
  })
})
