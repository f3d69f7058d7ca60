/**
 * Counts a stage's output by its `count` metadata: `none`, `one`, `length`,
 * `length(path)`, `field(path)` or a sum of those. A list the executor
 * stored as a blob counts by the `length` its reference carries.
 */
import { isBlobRef } from "./Blob.ts"
import { readPath } from "./JsonPath.ts"

const lengthOf = (value: unknown): number =>
  isBlobRef(value)
    ? (value.length ?? 0)
    : Array.isArray(value)
      ? value.length
      : typeof value === "string"
        ? value.length
        : value !== null && typeof value === "object"
          ? Object.keys(value).length
          : 0

const term = (expression: string, output: unknown): number => {
  if (expression === "none") return 0
  if (expression === "one") return 1
  if (expression === "length") return lengthOf(output)
  const match = /^(length|field)\(([^)]*)\)$/.exec(expression)
  if (match === null) return 0
  const value = readPath(output, match[2]!)
  if (match[1] === "length") return lengthOf(value)
  return typeof value === "number" && Number.isFinite(value) ? value : 0
}

/** The count of `output` under `expression`. */
export const countOutput = (expression: string, output: unknown): number =>
  expression.split("+").reduce((sum, part) => sum + term(part.trim(), output), 0)
