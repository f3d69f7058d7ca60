/**
 * Conditions over a run's ledger, as a `gate` stage states them: a field
 * `equals` a value, `exists` (or not), is `in` a list, or compares to a number
 * (`gt`, `gte`, `lt`, `lte`); `all` and `any` combine them. Evaluating one
 * gives every unmet condition in words, with what the ledger holds instead.
 */
import { Schema } from "effect"

/** A dotted path into the ledger, such as `pdf_ir_ready` or `review.pages`. */
const Field = Schema.String.pipe(
  Schema.check(Schema.isPattern(/^[A-Za-z0-9_-]+(?:\.[A-Za-z0-9_-]+)*$/u, { message: "expected a ledger field such as pdf_ir_ready" }))
)

export type Condition =
  | { readonly field: string; readonly equals: Schema.Json }
  | { readonly field: string; readonly exists: boolean }
  | { readonly field: string; readonly in: ReadonlyArray<Schema.Json> }
  | {
      readonly field: string
      readonly gt?: number
      readonly gte?: number
      readonly lt?: number
      readonly lte?: number
    }
  | { readonly all: ReadonlyArray<Condition> }
  | { readonly any: ReadonlyArray<Condition> }

const Comparison = Schema.Struct({
  field: Field,
  gt: Schema.optionalKey(Schema.Finite),
  gte: Schema.optionalKey(Schema.Finite),
  lt: Schema.optionalKey(Schema.Finite),
  lte: Schema.optionalKey(Schema.Finite)
}).pipe(
  Schema.check(
    Schema.makeFilter((value) => ["gt", "gte", "lt", "lte"].some((key) => key in value) || "expected one of gt, gte, lt, lte", {
      title: "comparison"
    })
  )
)

export const Condition: Schema.Codec<Condition> = Schema.Union([
  Schema.Struct({ field: Field, equals: Schema.Json }),
  Schema.Struct({ field: Field, exists: Schema.Boolean }),
  Schema.Struct({ field: Field, in: Schema.Array(Schema.Json) }),
  Schema.Struct({ all: Schema.Array(Schema.suspend((): Schema.Codec<Condition> => Condition)) }),
  Schema.Struct({ any: Schema.Array(Schema.suspend((): Schema.Codec<Condition> => Condition)) }),
  Comparison
])

/** The outcome of a condition: met, or each unmet part in words. */
export interface Evaluation {
  readonly met: boolean
  readonly unmet: ReadonlyArray<string>
}

const read = (ledger: Readonly<Record<string, unknown>>, field: string): unknown =>
  field
    .split(".")
    .reduce<unknown>((value, key) => (value !== null && typeof value === "object" ? (value as never)[key] : undefined), ledger)

const show = (value: unknown): string => (value === undefined ? "missing" : `found ${JSON.stringify(value)}`)

const leaf = (met: boolean, words: string, value: unknown): Evaluation =>
  met ? { met, unmet: [] } : { met, unmet: [`${words} (${show(value)})`] }

const isEqual = (left: unknown, right: unknown): boolean => {
  if (left === right) return true
  if (left === null || right === null || typeof left !== "object" || typeof right !== "object") return false
  if (Array.isArray(left) !== Array.isArray(right)) return false
  const leftKeys = Object.keys(left)
  const rightKeys = Object.keys(right)
  return leftKeys.length === rightKeys.length && leftKeys.every((key) => isEqual((left as never)[key], (right as never)[key]))
}

const comparisons = [
  ["gt", ">", (value: number, bound: number) => value > bound],
  ["gte", ">=", (value: number, bound: number) => value >= bound],
  ["lt", "<", (value: number, bound: number) => value < bound],
  ["lte", "<=", (value: number, bound: number) => value <= bound]
] as const

/** Evaluates a condition against a ledger. */
export const evaluate = (condition: Condition, ledger: Readonly<Record<string, unknown>>): Evaluation => {
  if ("all" in condition) {
    const parts = condition.all.map((part) => evaluate(part, ledger))
    return { met: parts.every((part) => part.met), unmet: parts.flatMap((part) => part.unmet) }
  }
  if ("any" in condition) {
    const parts = condition.any.map((part) => evaluate(part, ledger))
    if (parts.length === 0 || parts.some((part) => part.met))
      return { met: parts.length > 0, unmet: parts.length > 0 ? [] : ["any of nothing"] }
    return { met: false, unmet: [`any of: ${parts.flatMap((part) => part.unmet).join("; ")}`] }
  }
  const value = read(ledger, condition.field)
  if ("equals" in condition) {
    return leaf(isEqual(value, condition.equals), `${condition.field} equals ${JSON.stringify(condition.equals)}`, value)
  }
  if ("exists" in condition) {
    return leaf((value !== undefined) === condition.exists, `${condition.field} ${condition.exists ? "exists" : "does not exist"}`, value)
  }
  if ("in" in condition) {
    return leaf(
      condition.in.some((option) => isEqual(value, option)),
      `${condition.field} in ${JSON.stringify(condition.in)}`,
      value
    )
  }
  const bounds = comparisons.filter(([key]) => condition[key] !== undefined)
  const met = typeof value === "number" && bounds.every(([key, , holds]) => holds(value, condition[key]!))
  return leaf(met, `${condition.field} ${bounds.map(([key, symbol]) => `${symbol} ${condition[key]}`).join(" and ")}`, value)
}
