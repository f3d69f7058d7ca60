/**
 * Combines the outputs of a `for_each` stage's tasks, in task order, into the
 * state slots the stage writes, by its output mode: the tasks' outputs are
 * concatenated (a list contributes its elements, any other value itself);
 * `set` puts that list in the slot, `append` adds it to what the slot holds,
 * `merge` merges each task's object in order, `unpack` gives each slot the
 * concatenation of the tasks' fields of that name, `none` writes nothing.
 * Running a list-in, list-out stage once over every item or once per item
 * then leaves the same state.
 */

/** The slots to write, or what was wrong with an output. */
export type Combined =
  { readonly _tag: "Combined"; readonly slots: Readonly<Record<string, unknown>> } | { readonly _tag: "Rejected"; readonly message: string }

const isObject = (value: unknown): value is Record<string, unknown> => value !== null && typeof value === "object" && !Array.isArray(value)

const asList = (value: unknown): ReadonlyArray<unknown> => (Array.isArray(value) ? value : value === undefined ? [] : [value])

const concat = (values: ReadonlyArray<unknown>): Array<unknown> => {
  const all: Array<unknown> = []
  for (const value of values) {
    if (Array.isArray(value)) for (const element of value) all.push(element)
    else if (value !== undefined) all.push(value)
  }
  return all
}

/**
 * The slots `outputs` (one per finished task, in order; skipped tasks left out) write, given
 * the slots' current values `current` (read by `append` and `merge`).
 */
export const combineOutputs = (options: {
  readonly mode: string
  readonly stateKey: string | ReadonlyArray<string> | null
  readonly outputs: ReadonlyArray<unknown>
  readonly current: Readonly<Record<string, unknown>>
}): Combined => {
  const { current, mode, outputs, stateKey } = options
  if (mode === "none" || stateKey === null) return { _tag: "Combined", slots: {} }
  const keys = typeof stateKey === "string" ? [stateKey] : stateKey
  const slots: Record<string, unknown> = {}
  switch (mode) {
    case "set": {
      const list = concat(outputs)
      for (const key of keys) slots[key] = list
      break
    }
    case "append": {
      const list = concat(outputs)
      for (const key of keys) slots[key] = [...asList(current[key]), ...list]
      break
    }
    case "merge": {
      const index = outputs.findIndex((output) => !isObject(output))
      if (index >= 0)
        return { _tag: "Rejected", message: `output mode merge expects an object from every task; task output ${index} is not one` }
      for (const key of keys) slots[key] = Object.assign({}, isObject(current[key]) ? current[key] : {}, ...(outputs as Array<object>))
      break
    }
    case "unpack": {
      const index = outputs.findIndex((output) => !isObject(output))
      if (index >= 0) {
        return {
          _tag: "Rejected",
          message: `output mode unpack expects an object with fields ${keys.join(", ")} from every task; task output ${index} is not one`
        }
      }
      for (const key of keys) slots[key] = concat((outputs as Array<Record<string, unknown>>).map((output) => output[key]))
      break
    }
    default:
      return { _tag: "Rejected", message: `unknown output mode ${mode}` }
  }
  return { _tag: "Combined", slots }
}
