/**
 * Applies a stage's output to the run state by its metadata: `set` replaces
 * the slot, `append` adds to a list, `merge` shallow-merges an object,
 * `unpack` spreads an object's fields into several slots, `none` drops it.
 */
import type { Schema } from "effect"

type Json = Schema.Json
type State = Readonly<Record<string, Json>>

/** The new state, or what was wrong with the output. */
export type Applied = { readonly _tag: "Applied"; readonly state: State } | { readonly _tag: "Rejected"; readonly message: string }

const isObject = (value: Json | undefined): value is { readonly [key: string]: Json } =>
  value !== null && typeof value === "object" && !Array.isArray(value)

/** Applies `output` for a stage with `stateKey` and `mode`. */
export const applyOutput = (
  state: State,
  options: { readonly stateKey: string | ReadonlyArray<string> | null; readonly mode: string; readonly output: Json }
): Applied => {
  const { mode, output, stateKey } = options
  if (mode === "none" || stateKey === null) return { _tag: "Applied", state }
  if (mode === "unpack") {
    const keys = typeof stateKey === "string" ? [stateKey] : stateKey
    if (!isObject(output)) {
      return { _tag: "Rejected", message: `output mode unpack expects an object with fields ${keys.join(", ")}, found ${describe(output)}` }
    }
    const next: Record<string, Json> = { ...state }
    for (const key of keys) if (key in output) next[key] = output[key]
    return { _tag: "Applied", state: next }
  }
  const keys = typeof stateKey === "string" ? [stateKey] : stateKey
  const next: Record<string, Json> = { ...state }
  for (const key of keys) {
    const current = state[key]
    switch (mode) {
      case "set":
        next[key] = output
        break
      case "append":
        next[key] = [
          ...(Array.isArray(current) ? current : current === undefined ? [] : [current]),
          ...(Array.isArray(output) ? output : [output])
        ]
        break
      case "merge":
        if (!isObject(output)) return { _tag: "Rejected", message: `output mode merge expects an object, found ${describe(output)}` }
        next[key] = { ...(isObject(current) ? current : {}), ...output }
        break
      default:
        return { _tag: "Rejected", message: `unknown output mode ${mode}` }
    }
  }
  return { _tag: "Applied", state: next }
}

const describe = (value: unknown): string =>
  value === null ? "null" : Array.isArray(value) ? "an array" : typeof value === "object" ? "an object" : `a ${typeof value}`
