/**
 * The templates an executor renders in a task's inputs: `{{ vars.KEY }}` and
 * `{{ secrets.KEY }}`, and only where the task's `templates` say they are.
 *
 * A task's `inputs` are data: run inputs, ledger values and stage outputs
 * substituted by the scheduler may hold any text, `{{ secrets.X }}`
 * included, and an executor never renders a template it finds there. What
 * the pipeline's own text asked for travels beside them: each
 * `InputTemplate` names the string of `inputs` it replaces (`path`, keys and
 * list indexes) and spells that string out as literal text and references
 * (`parts`). The executor builds the string from its parts, so text that
 * came from a run input stays literal whatever it holds.
 */
import { Schema } from "effect"

/** The roots an executor resolves. */
export const executorRoots: ReadonlySet<string> = new Set(["vars", "secrets"])

/** A var or secret key: letters, digits and `_`, not starting with a digit. */
export const templateKeyPattern = /^[A-Za-z_][A-Za-z0-9_]*$/

/** One `{{ vars.KEY }}` or `{{ secrets.KEY }}` of a template. */
export const TemplateReference = Schema.Struct({
  root: Schema.Literals(["vars", "secrets"]),
  key: Schema.String.pipe(
    Schema.check(Schema.isPattern(templateKeyPattern, { message: "expected letters, digits and _, not starting with a digit" }))
  )
})
export type TemplateReference = typeof TemplateReference.Type

/** Literal text, or a reference the executor replaces by its value as text. */
export const TemplatePart = Schema.Union([Schema.String, TemplateReference])
export type TemplatePart = typeof TemplatePart.Type

/** One string of a task's inputs that the executor renders. */
export class InputTemplate extends Schema.Class<InputTemplate>("switchyard/InputTemplate")({
  /** Where the string sits in `inputs`: object keys and list indexes, from the top. */
  path: Schema.Array(Schema.Union([Schema.String, Schema.Int])),
  /** The string, as literal text and references in order. */
  parts: Schema.Array(TemplatePart)
}) {}

// `\{{` escapes; otherwise `{{ root.path }}` with a dotted path of word characters and dashes, or
// a bare `{{ item }}` / `{{ items }}` (the scheduler's; an executor never sees them).
const template = /(\\)?\{\{\s*(?:([A-Za-z_][A-Za-z0-9_]*)\.([A-Za-z0-9_-]+(?:\.[A-Za-z0-9_-]+)*)|(items?))\s*\}\}/g

/**
 * Whether `text` may hold an executor reference (a cheap test before `splitTemplate`).
 */
export const mayHoldReference = (text: string): boolean => text.includes("{{") && (text.includes("vars.") || text.includes("secrets."))

/**
 * Splits authored text into literal parts and executor references, in one pass: `\{{` writes a
 * literal `{{`, a `{{ vars.KEY }}` or `{{ secrets.KEY }}` becomes a reference, and any other
 * template is handed to `substitute` (its text as the part; `undefined` keeps it as written).
 * Nothing a substitution returns is looked at again. `undefined` when the text holds no reference.
 */
export const splitTemplate = (
  text: string,
  substitute: (root: string, path: string) => string | undefined = () => undefined
): ReadonlyArray<TemplatePart> | undefined => {
  const parts: Array<TemplatePart> = []
  let literal = ""
  let last = 0
  let references = 0
  for (const match of text.matchAll(template)) {
    literal += text.slice(last, match.index)
    last = match.index + match[0].length
    const [whole, escaped, named, path = "", bare] = match
    if (escaped !== undefined) {
      literal += whole.slice(1)
      continue
    }
    const root = named ?? bare!
    if (executorRoots.has(root) && templateKeyPattern.test(path)) {
      if (literal !== "") parts.push(literal)
      literal = ""
      parts.push({ root: root as TemplateReference["root"], key: path })
      references += 1
      continue
    }
    literal += substitute(root, path) ?? whole
  }
  literal += text.slice(last)
  if (references === 0) return undefined
  if (literal !== "") parts.push(literal)
  return parts
}

/**
 * The templates of an authored JSON value (a standalone task's inputs, a stage's `config`): one
 * for every string holding a `{{ vars.KEY }}` or `{{ secrets.KEY }}`, under `at`.
 */
export const authoredTemplates = (value: unknown, at: ReadonlyArray<string | number> = []): Array<InputTemplate> => {
  if (typeof value === "string") {
    const parts = mayHoldReference(value) ? splitTemplate(value) : undefined
    return parts === undefined ? [] : [new InputTemplate({ path: at, parts })]
  }
  if (Array.isArray(value)) return value.flatMap((item, index) => authoredTemplates(item, [...at, index]))
  if (value !== null && typeof value === "object")
    return Object.entries(value).flatMap(([key, item]) => authoredTemplates(item, [...at, key]))
  return []
}

/** The references of some templates, by root. */
export const templateKeys = (templates: ReadonlyArray<InputTemplate>): { readonly vars: Set<string>; readonly secrets: Set<string> } => {
  const keys = { vars: new Set<string>(), secrets: new Set<string>() }
  for (const entry of templates) for (const part of entry.parts) if (typeof part !== "string") keys[part.root].add(part.key)
  return keys
}

/** A template's text, with `value` giving each reference's. */
export const renderParts = (parts: ReadonlyArray<TemplatePart>, value: (reference: TemplateReference) => string): string =>
  parts.map((part) => (typeof part === "string" ? part : value(part))).join("")
