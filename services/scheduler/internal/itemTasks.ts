/**
 * Task ids of a `for_each` stage's tasks: `<runId>.<stage>[<index>]`, and the
 * keys their stored outputs have in the run's item results bucket.
 */

/** The id of task `index` of a `for_each` stage. */
export const itemTaskId = (runId: string, stage: string, index: number): string => `${runId}.${stage}[${index}]`

const indexSuffix = /\[(\d+)\]$/

/** The task index an item task id ends with; `undefined` for any other id. */
export const itemIndexOf = (taskId: string): number | undefined => {
  const match = indexSuffix.exec(taskId)
  return match === null ? undefined : Number(match[1])
}

/** Where task `index`'s output of a `for_each` stage is kept in the item results bucket. */
export const itemKey = (runId: string, stage: string, index: number): string => `${runId}.${stage}.${index}`

// Stage names have no dots and indexes are digits, so the run id is all that precedes the last two parts (itself free to hold dots).
const itemKeyShape = /^(.+)\.[A-Za-z_][A-Za-z0-9_-]*\.\d+$/

/** The run an item results key belongs to; `undefined` for a key not shaped like `itemKey`'s. */
export const itemRunOf = (key: string): string | undefined => itemKeyShape.exec(key)?.[1]

/** The items task `index` runs over. */
export const itemRange = (index: number, batch: number, total: number): { readonly from: number; readonly to: number } => ({
  from: index * batch,
  to: Math.min(total, (index + 1) * batch)
})
