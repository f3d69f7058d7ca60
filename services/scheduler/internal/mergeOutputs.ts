/**
 * The slot a `merge` stage mapped over items writes: the tasks' object
 * outputs merged in task order over what the slot held, as running the stage
 * once over every item would leave it. (`set`, `append` and `unpack` stages
 * write lists, built as their outputs are read: `fanOut.ts`.)
 */

const isObject = (value: unknown): value is Record<string, unknown> => value !== null && typeof value === "object" && !Array.isArray(value)

/** The merged object, or what was wrong with an output. */
export type Merged =
  { readonly _tag: "Merged"; readonly value: Record<string, unknown> } | { readonly _tag: "Rejected"; readonly message: string }

/** `outputs` (one per finished task, in order; skipped tasks left out) merged over `current`. */
export const mergeOutputs = (outputs: ReadonlyArray<unknown>, current: unknown): Merged => {
  const index = outputs.findIndex((output) => !isObject(output))
  if (index >= 0)
    return { _tag: "Rejected", message: `output mode merge expects an object from every task; task output ${index} is not one` }
  return { _tag: "Merged", value: Object.assign({}, isObject(current) ? current : {}, ...outputs.filter(isObject)) }
}
