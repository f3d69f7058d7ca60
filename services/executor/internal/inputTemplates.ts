/**
 * Rendering a task's `templates` into its inputs just before the call: each
 * names a string of `inputs` and spells it out as literal text and
 * `{{ vars.KEY }}` / `{{ secrets.KEY }}` references. The executor renders
 * these and nothing else: text anywhere in `inputs` (a run input, a ledger
 * value, an earlier stage's output) is data and stays as it is, whatever
 * it reads. A value put in is never looked at again, so one pass.
 */
import type { InputTemplate, TemplateReference } from "@switchyard/schemas/InputTemplate"
import { renderParts } from "@switchyard/schemas/InputTemplate"

/** A path as it reads in messages: `headers.Authorization`, `urls[0]`. */
export const formatPath = (path: ReadonlyArray<string | number>): string =>
  path.map((segment, index) => (typeof segment === "number" ? `[${segment}]` : index === 0 ? segment : `.${segment}`)).join("") ||
  "(the inputs themselves)"

/** The first template whose path does not lead to a string of `inputs`, if any. */
export const strayTemplate = (inputs: unknown, templates: ReadonlyArray<InputTemplate>): InputTemplate | undefined =>
  templates.find((entry) => {
    let at: unknown = inputs
    for (const segment of entry.path) {
      if (at === null || typeof at !== "object" || Array.isArray(at) !== (typeof segment === "number") || !Object.hasOwn(at, segment)) {
        return true
      }
      at = (at as Record<string | number, unknown>)[segment]
    }
    return typeof at !== "string"
  })

/** `inputs` with each template's string replaced by its rendering (copied along the paths written; the rest shared). */
export const applyTemplates = (
  inputs: unknown,
  templates: ReadonlyArray<InputTemplate>,
  value: (reference: TemplateReference) => string
): unknown => {
  if (templates.length === 0) return inputs
  const copied = new Set<unknown>()
  const copy = (container: unknown): unknown => {
    const fresh = Array.isArray(container) ? [...container] : { ...(container as object) }
    copied.add(fresh)
    return fresh
  }
  let root = inputs
  for (const entry of templates) {
    const text = renderParts(entry.parts, value)
    if (entry.path.length === 0) {
      root = text
      continue
    }
    if (!copied.has(root)) root = copy(root)
    let at = root as Record<string | number, unknown>
    for (const segment of entry.path.slice(0, -1)) {
      if (!copied.has(at[segment])) at[segment] = copy(at[segment])
      at = at[segment] as Record<string | number, unknown>
    }
    at[entry.path[entry.path.length - 1]!] = text
  }
  return root
}
