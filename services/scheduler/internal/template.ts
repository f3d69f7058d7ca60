/**
 * Resolves `{{ inputs.x }}`, `{{ state.y.z }}` and `{{ ledger.k }}` in stage
 * inputs. A string that is exactly one template takes the referenced value
 * with its type; templates inside longer strings are interpolated as text.
 * Other roots (e.g. `{{ secrets.KEY }}`) are left for the executor.
 */
import { readPath } from "./jsonPath.ts"

/** Values templates can reference. */
export interface TemplateScope {
  readonly inputs: Readonly<Record<string, unknown>>
  readonly state: Readonly<Record<string, unknown>>
  readonly ledger: Readonly<Record<string, unknown>>
}

const whole = /^\{\{\s*(inputs|state|ledger)\.([A-Za-z0-9_.-]+)\s*\}\}$/
const inline = /\{\{\s*(inputs|state|ledger)\.([A-Za-z0-9_.-]+)\s*\}\}/g

const lookup = (scope: TemplateScope, root: string, path: string): unknown => readPath(scope[root as keyof TemplateScope], path)

/** Resolves templates anywhere in a JSON value. */
export const resolveTemplates = (value: unknown, scope: TemplateScope): unknown => {
  if (typeof value === "string") {
    const exact = whole.exec(value)
    if (exact !== null) return lookup(scope, exact[1]!, exact[2]!) ?? null
    return value.replace(inline, (_, root: string, path: string) => {
      const found = lookup(scope, root, path)
      return found === undefined || found === null ? "" : typeof found === "string" ? found : JSON.stringify(found)
    })
  }
  if (Array.isArray(value)) return value.map((item) => resolveTemplates(item, scope))
  if (value !== null && typeof value === "object") {
    return Object.fromEntries(Object.entries(value).map(([key, item]) => [key, resolveTemplates(item, scope)]))
  }
  return value
}
