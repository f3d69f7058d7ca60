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
 *
 * A stage's task inputs come with the templates the executor renders
 * (`renderStageInputs`): every string of the stage's `inputs` or `config`
 * that holds a `{{ vars.KEY }}` or `{{ secrets.KEY }}`, spelled out with the
 * scheduler's own templates already replaced by text. The executor renders
 * those and nothing else, so a value substituted here (a run input, a
 * ledger value, a stage's output) stays literal even when it reads
 * `{{ secrets.KEY }}`.
 */
import { containsRef } from "@switchyard/bus/BlobJson"
import { isBlobRef, pathRef } from "@switchyard/schemas/Blob"
import type { InputTemplate } from "@switchyard/schemas/InputTemplate"
import { mayHoldReference, splitTemplate } from "@switchyard/schemas/InputTemplate"

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
    } else literal += asText(found)
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

/** A value as interpolated into text: a string as itself, nothing for a missing value, anything else as JSON. */
const asText = (found: unknown): string =>
  found === undefined || found === null ? "" : typeof found === "string" ? found : JSON.stringify(found)

/** A stage's task inputs and the templates in them the executor renders. */
export interface StageInputs {
  readonly inputs: unknown
  readonly templates: ReadonlyArray<typeof InputTemplate.Encoded>
}

/**
 * The strings of an authored value that hold executor references, as templates: the scheduler's
 * own templates replaced by text when `scope` is given (a stage's `inputs`), kept as written when
 * not (its `config`, which the scheduler does not render).
 */
const executorTemplates = (
  value: unknown,
  scope: TemplateScope | undefined,
  at: ReadonlyArray<string | number>
): Array<typeof InputTemplate.Encoded> => {
  if (typeof value === "string") {
    if (!mayHoldReference(value)) return []
    const parts = splitTemplate(
      value,
      scope === undefined ? undefined : (root, path) => (schedulerRoots.has(root) ? asText(lookup(scope, root, path)) : undefined)
    )
    return parts === undefined ? [] : [{ path: at, parts }]
  }
  if (Array.isArray(value)) return value.flatMap((item, index) => executorTemplates(item, scope, [...at, index]))
  if (value !== null && typeof value === "object") {
    return Object.entries(value).flatMap(([key, item]) => executorTemplates(item, scope, [...at, key]))
  }
  return []
}

/**
 * A stage's task inputs (its `config` with its rendered `inputs` over it, shallow) and the
 * templates the executor renders in them, found in the pipeline's text only.
 */
export const renderStageInputs = (
  definition: { readonly inputs?: unknown; readonly config?: unknown },
  scope: TemplateScope
): StageInputs => {
  const authored = definition.inputs ?? {}
  const rendered = resolveTemplates(authored, scope)
  const fromInputs = executorTemplates(authored, scope, [])
  if (definition.config === undefined) return { inputs: rendered, templates: fromInputs }
  const own = new Set(Object.keys(rendered as object))
  const fromConfig = executorTemplates(definition.config, undefined, []).filter((entry) => !own.has(String(entry.path[0])))
  return { inputs: { ...(definition.config as object), ...(rendered as object) }, templates: [...fromConfig, ...fromInputs] }
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
