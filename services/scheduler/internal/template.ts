/**
 * Resolves `{{ inputs.x }}`, `{{ state.y.z }}`, `{{ ledger.k }}`,
 * `{{ run.id }}` and, in a `for_each` stage, `{{ items }}` and `{{ item }}` in
 * stage inputs. A string that is exactly one template takes
 * the referenced value with its type; templates inside longer strings are
 * interpolated as text. Rendering is one pass: text that comes out of a
 * template is never rendered again. `{{ vars.KEY }}` and `{{ secrets.KEY }}`
 * are left as they are, for the executor. `\{{` writes a literal `{{`.
 *
 * Values past the blob threshold are references in the run's state; a path
 * that crosses one becomes a reference to the value at the rest of the path
 * (`pathRef`), and a stored value interpolated into text makes the string
 * deferred text (`{"$text": [...]}`), both read by the executor, so a stage
 * sees the value as if it had never been stored.
 */
import { containsRef } from "@switchyard/bus/BlobJson"
import { isBlobRef, pathRef } from "@switchyard/schemas/Blob"

/** Values templates can reference. */
export interface TemplateScope {
  readonly inputs: Readonly<Record<string, unknown>>
  readonly state: Readonly<Record<string, unknown>>
  readonly ledger: Readonly<Record<string, unknown>>
  readonly run: { readonly id: string }
  /** A `for_each` task's items (or a reference to them in a stored list). */
  readonly items?: unknown
  /** A `for_each` task's one item (batch 1). */
  readonly item?: unknown
}

/** One `{{ root.path }}` found in a value, with where it sits. */
export interface TemplateReference {
  /** Dotted path of the string holding it, relative to the value scanned. */
  readonly at: string
  readonly root: string
  readonly path: string
  readonly text: string
}

/** Roots a `for_each` stage's inputs may use besides the others. */
export const itemRoots = new Set(["item", "items"])
/** Roots the scheduler resolves; the executor resolves `vars` and `secrets`. */
export const schedulerRoots = new Set(["inputs", "state", "ledger", "run", ...itemRoots])
/** Every root a template may use. */
export const knownRoots = new Set([...schedulerRoots, "vars", "secrets"])

// `\{{` escapes; otherwise `{{ root.path }}` with a dotted path of word characters and dashes, or
// a bare `{{ item }}` / `{{ items }}`.
const template = /(\\)?\{\{\s*(?:([A-Za-z_][A-Za-z0-9_]*)\.([A-Za-z0-9_-]+(?:\.[A-Za-z0-9_-]+)*)|(items?))\s*\}\}/g
const wholeTemplate = /^\{\{\s*(?:([A-Za-z_][A-Za-z0-9_]*)\.([A-Za-z0-9_-]+(?:\.[A-Za-z0-9_-]+)*)|(items?))\s*\}\}$/

/**
 * The value at `path` under `root`; where the path crosses a stored value, a reference to the
 * value at the rest of the path inside it, which the executor reads.
 */
const lookup = (scope: TemplateScope, root: string, path: string): unknown => {
  let current: unknown = scope[root as keyof TemplateScope]
  if (path === "") return current
  const segments = path.split(".")
  for (let i = 0; i < segments.length; i++) {
    if (isBlobRef(current)) {
      // A stored list's length is on its reference.
      const listLength = current.at === undefined && current.path === undefined ? current.length : undefined
      return i === segments.length - 1 && segments[i] === "length" && listLength !== undefined
        ? listLength
        : pathRef(current, segments.slice(i))
    }
    if (current === null || typeof current !== "object") return undefined
    current = (current as Record<string, unknown>)[segments[i]!]
  }
  return current
}

const render = (text: string, scope: TemplateScope): unknown => {
  const exact = wholeTemplate.exec(text)
  if (exact !== null) {
    const root = exact[1] ?? exact[3]!
    if (schedulerRoots.has(root)) return lookup(scope, root, exact[2] ?? "") ?? null
  }
  // Literal text and the values interpolated between it; a value holding a reference is kept
  // whole, for the executor to join once it has read it (deferred text).
  const parts: Array<unknown> = []
  let literal = ""
  let deferred = false
  let last = 0
  for (const match of text.matchAll(template)) {
    literal += text.slice(last, match.index)
    last = match.index + match[0].length
    const [whole, escaped, named, path = "", bare] = match
    const root = named ?? bare!
    if (escaped !== undefined || !schedulerRoots.has(root)) {
      literal += escaped !== undefined ? whole.slice(1) : whole
      continue
    }
    const found = lookup(scope, root, path)
    if (typeof found === "object" && found !== null && containsRef(found)) {
      deferred = true
      parts.push(literal, found)
      literal = ""
    } else literal += found === undefined || found === null ? "" : typeof found === "string" ? found : JSON.stringify(found)
  }
  literal += text.slice(last)
  if (!deferred) return literal
  parts.push(literal)
  return { $text: parts.filter((part) => part !== "") }
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
      .map((match) => ({ at, root: match[2] ?? match[4]!, path: match[3] ?? "", text: match[0] }))
  }
  if (Array.isArray(value)) return value.flatMap((item, index) => templateReferences(item, `${at}[${index}]`))
  if (value !== null && typeof value === "object") {
    return Object.entries(value).flatMap(([key, item]) => templateReferences(item, at === "" ? key : `${at}.${key}`))
  }
  return []
}

/**
 * True when every `{{ item }}` and `{{ items }}` in a JSON value is a whole string by itself, so
 * the value it takes is passed on as it is (and may be a reference the executor reads); false
 * when one is interpolated into text or has a path, which needs the items themselves.
 */
export const itemsTakenWhole = (value: unknown): boolean => {
  if (typeof value === "string") {
    const references = templateReferences(value).filter((reference) => itemRoots.has(reference.root))
    return references.length === 0 || (references.length === 1 && references[0]!.path === "" && references[0]!.text === value)
  }
  if (Array.isArray(value)) return value.every(itemsTakenWhole)
  if (value !== null && typeof value === "object") return Object.values(value).every(itemsTakenWhole)
  return true
}
