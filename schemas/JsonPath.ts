/** Reads a dotted path (`a.b.0.c`) out of a JSON value; undefined when absent. */
export const readPath = (value: unknown, path: string): unknown => {
  let current = value
  for (const segment of path.split(".")) {
    if (segment === "") continue
    if (current === null || typeof current !== "object") return undefined
    current = (current as Record<string, unknown>)[segment]
  }
  return current
}
