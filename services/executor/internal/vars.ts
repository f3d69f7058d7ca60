/**
 * Rendering `{{ vars.KEY }}` in a task's inputs just before the call, from
 * the run's vars over the executor's own. Like secret references, a string
 * that holds one gets the value as text; `\{{` leaves a reference as written.
 */

const reference = /(\\)?\{\{\s*vars\.([A-Za-z_][A-Za-z0-9_]*)\s*\}\}/g

/** Keys referenced anywhere in a JSON value. */
export const varKeys = (value: unknown, into: Set<string> = new Set()): Set<string> => {
  if (typeof value === "string") {
    if (value.includes("vars.")) for (const match of value.matchAll(reference)) if (match[1] === undefined) into.add(match[2]!)
  } else if (Array.isArray(value)) for (const item of value) varKeys(item, into)
  else if (value !== null && typeof value === "object") for (const item of Object.values(value)) varKeys(item, into)
  return into
}

/** Replaces var references with their values, in one pass; unknown keys are left as written. */
export const renderVars = (value: unknown, vars: Readonly<Record<string, string>>): unknown => {
  if (typeof value === "string") {
    if (!value.includes("vars.")) return value
    return value.replace(reference, (match: string, escaped: string | undefined, key: string) =>
      escaped !== undefined || !Object.hasOwn(vars, key) ? match : vars[key]!
    )
  }
  if (Array.isArray(value)) return value.map((item) => renderVars(item, vars))
  if (value !== null && typeof value === "object") {
    return Object.fromEntries(Object.entries(value).map(([key, item]) => [key, renderVars(item, vars)]))
  }
  return value
}
