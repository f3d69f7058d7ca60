/**
 * Resolves `{{ inputs.x }}`, `{{ state.y.z }}`, `{{ ledger.k }}` and
 * `{{ run.id }}` in stage inputs. A string that is exactly one template takes
 * the referenced value with its type; templates inside longer strings are
 * interpolated as text. Rendering is one pass: text that comes out of a
 * template is never rendered again. `{{ vars.KEY }}` and `{{ secrets.KEY }}`
 * are left as they are, for the executor. `\{{` writes a literal `{{`.
 */
import { readPath } from "./jsonPath.ts"

/** Values templates can reference. */
export interface TemplateScope {
  readonly inputs: Readonly<Record<string, unknown>>
  readonly state: Readonly<Record<string, unknown>>
  readonly ledger: Readonly<Record<string, unknown>>
  readonly run: { readonly id: string }
}

/** One `{{ root.path }}` found in a value, with where it sits. */
export interface TemplateReference {
  /** Dotted path of the string holding it, relative to the value scanned. */
  readonly at: string
  readonly root: string
  readonly path: string
  readonly text: string
}

/** Roots the scheduler resolves; the executor resolves `vars` and `secrets`. */
export const schedulerRoots = new Set(["inputs", "state", "ledger", "run"])
/** Every root a template may use. */
export const knownRoots = new Set([...schedulerRoots, "vars", "secrets"])

// `\{{` escapes; otherwise `{{ root.path }}` with a dotted path of word characters and dashes.
const template = /(\\)?\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\.([A-Za-z0-9_-]+(?:\.[A-Za-z0-9_-]+)*)\s*\}\}/g
const wholeTemplate = /^\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\.([A-Za-z0-9_-]+(?:\.[A-Za-z0-9_-]+)*)\s*\}\}$/

const lookup = (scope: TemplateScope, root: string, path: string): unknown => readPath(scope[root as keyof TemplateScope], path)

const render = (text: string, scope: TemplateScope): unknown => {
  const exact = wholeTemplate.exec(text)
  if (exact !== null && schedulerRoots.has(exact[1]!)) return lookup(scope, exact[1]!, exact[2]!) ?? null
  return text.replace(template, (match: string, escaped: string | undefined, root: string, path: string) => {
    if (escaped !== undefined) return match.slice(1)
    if (!schedulerRoots.has(root)) return match
    const found = lookup(scope, root, path)
    return found === undefined || found === null ? "" : typeof found === "string" ? found : JSON.stringify(found)
  })
}

/** Resolves templates anywhere in a JSON value. */
export const resolveTemplates = (value: unknown, scope: TemplateScope): unknown => {
  if (typeof value === "string") return render(value, scope)
  if (Array.isArray(value)) return value.map((item) => resolveTemplates(item, scope))
  if (value !== null && typeof value === "object") {
    return Object.fromEntries(Object.entries(value).map(([key, item]) => [key, resolveTemplates(item, scope)]))
  }
  return value
}

/** Every template reference in a JSON value (escaped ones excluded). */
export const templateReferences = (value: unknown, at = ""): Array<TemplateReference> => {
  if (typeof value === "string") {
    return [...value.matchAll(template)]
      .filter((match) => match[1] === undefined)
      .map((match) => ({ at, root: match[2]!, path: match[3]!, text: match[0] }))
  }
  if (Array.isArray(value)) return value.flatMap((item, index) => templateReferences(item, `${at}[${index}]`))
  if (value !== null && typeof value === "object") {
    return Object.entries(value).flatMap(([key, item]) => templateReferences(item, at === "" ? key : `${at}.${key}`))
  }
  return []
}
