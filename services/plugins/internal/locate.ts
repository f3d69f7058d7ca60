/**
 * Maps a dotted field path (`stages[1].count`) to a line and column of a
 * parsed YAML document, walking up to the nearest node that has a position.
 */
import { isMap, isNode, isScalar } from "yaml"
import type { Document, LineCounter } from "yaml"

/** `stages[1].count` → `["stages", 1, "count"]`. */
export const splitPath = (path: string): Array<string | number> =>
  path === ""
    ? []
    : path
        .replace(/\[(\d+)\]/g, ".$1")
        .split(".")
        .filter((segment) => segment !== "")
        .map((segment) => (/^\d+$/.test(segment) ? Number(segment) : segment))

/** `["stages", 1, "count"]` → `stages[1].count`. */
export const joinPath = (segments: ReadonlyArray<string | number>): string =>
  segments
    .map((segment) => (typeof segment === "number" ? `[${segment}]` : `.${segment}`))
    .join("")
    .replace(/^\./, "")

/** Position of the value at `path`, or of its closest located ancestor. */
export const locate = (doc: Document, counter: LineCounter, path: string): { line: number; column: number } => {
  const segments = splitPath(path)
  for (let length = segments.length; length >= 0; length--) {
    const node = length === 0 ? doc.contents : doc.getIn(segments.slice(0, length), true)
    if (isNode(node) && node.range) {
      const { line, col } = counter.linePos(node.range[0])
      return { line, column: col }
    }
  }
  return { line: 1, column: 1 }
}

/** Position of the key of the field at `path` (for unknown fields); falls back to `locate`. */
export const locateKey = (doc: Document, counter: LineCounter, path: string): { line: number; column: number } => {
  const segments = splitPath(path)
  const key = segments.at(-1)
  const parent = segments.length <= 1 ? doc.contents : doc.getIn(segments.slice(0, -1), true)
  if (isMap(parent)) {
    for (const pair of parent.items) {
      if (isScalar(pair.key) && pair.key.value === key && pair.key.range) {
        const { line, col } = counter.linePos(pair.key.range[0])
        return { line, column: col }
      }
    }
  }
  return locate(doc, counter, path)
}
