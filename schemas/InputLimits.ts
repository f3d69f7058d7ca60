/**
 * The limits every file and value Switchyard takes from outside is held to,
 * so that hostile input is refused with a located issue rather than
 * exhausting memory, the stack or the time of whoever reads it: bytes per
 * file, nesting depth, alias expansion in YAML, and keys that name
 * JavaScript object internals (`__proto__`, `constructor`, `prototype`),
 * refused at any depth because code that merges or indexes plain objects by
 * such a key reaches the prototype instead of the data.
 */

/** Bytes a pipeline or plugin manifest file may have unless configured otherwise (1 MiB). */
export const defaultMaxFileBytes = 1024 * 1024

/** Stages a pipeline may have unless configured otherwise. */
export const defaultMaxStages = 1000

/** Collections nested inside one another, at most, in a file or a value. */
export const maxDepth = 100

/** Alias expansions a YAML document may make (the `yaml` package's `maxAliasCount`). */
export const maxAliasCount = 100

/** Keys refused anywhere in a file or a value. */
export const forbiddenKeys: ReadonlyArray<string> = ["__proto__", "constructor", "prototype"]

/** Whether `key` is one of `forbiddenKeys`. */
export const isForbiddenKey = (key: unknown): boolean => typeof key === "string" && forbiddenKeys.includes(key)

/** What a forbidden key's issue says. */
export const forbiddenKeyMessage = (key: string): string =>
  `expected a key other than ${forbiddenKeys.map((name) => `"${name}"`).join(", ")} (they name JavaScript object internals), found "${key}"`

/** What an issue about nesting past `maxDepth` says. */
export const depthMessage = `expected at most ${maxDepth} levels of nested mappings and lists, found more`

/** Bytes of `text` in UTF-8. */
export const byteLength = (text: string): number => new TextEncoder().encode(text).length

/** What an issue about a file over its size limit says; `setting` names how to raise the limit. */
export const sizeMessage = (options: { readonly bytes: number; readonly limit: number; readonly setting?: string | undefined }): string =>
  `expected at most ${options.limit} bytes${options.setting === undefined ? "" : ` (${options.setting})`}, found ${options.bytes} bytes`

/** A problem of a plain value, at a path of keys and indexes inside it. */
export interface ValueProblem {
  readonly path: ReadonlyArray<string | number>
  readonly message: string
}

/**
 * Forbidden keys at any depth of a plain (JSON) value, and nesting past
 * `maxDepth` (reported once, where it first passes). Walks with its own
 * stack, so a value too deep for recursion is still reported.
 */
export const valueProblems = (value: unknown): Array<ValueProblem> => {
  const problems: Array<ValueProblem> = []
  let tooDeep = false
  const pending: Array<{ readonly value: unknown; readonly path: ReadonlyArray<string | number> }> = [{ value, path: [] }]
  while (pending.length > 0) {
    const { path, value: current } = pending.pop()!
    if (typeof current !== "object" || current === null) continue
    if (path.length >= maxDepth) {
      if (!tooDeep) problems.push({ path, message: depthMessage })
      tooDeep = true
      continue
    }
    const entries: Array<[string | number, unknown]> = Array.isArray(current)
      ? current.map((item, index) => [index, item])
      : Object.keys(current).map((key) => [key, (current as Record<string, unknown>)[key]])
    for (const [key, item] of entries.reverse()) {
      if (isForbiddenKey(key)) problems.push({ path: [...path, key], message: forbiddenKeyMessage(key as string) })
      else pending.push({ value: item, path: [...path, key] })
    }
  }
  return problems
}
