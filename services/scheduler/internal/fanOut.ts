/**
 * The data side of `for_each` stages: loading a stage's list (from the run
 * state, or from the blob a reference names), keeping each finished task's
 * output in the run's item results bucket (`<runId>.<stage>.<index>`) before
 * its result is applied, and combining the outputs in task order once every
 * task finished, storing big slots as blobs. The run record only counts.
 *
 * A stored list is never loaded when the stage passes `{{ items }}` or
 * `{{ item }}` on whole: each task gets a reference to its part of the list,
 * which the executor reads. Combining a list-writing stage writes a stored
 * list from the tasks' outputs as they are read (`BlobList.ts`), taking
 * outputs the executors stored as segments of it, so neither holds a
 * corpus-sized list in the scheduler's memory.
 */
import { Effect, Option, Predicate, Schema } from "effect"
import type { KvStore } from "@switchyard/bus/Bus"
import { BlobStore } from "@switchyard/bus/BlobStore"
import { externalize, resolve } from "@switchyard/bus/BlobJson"
import { type ContentCache, isReadable, makeListWriter, readPart } from "@switchyard/bus/BlobList"
import { Lru } from "@switchyard/bus/Lru"
import { elementRef, isBlobRef, isPartRef, sliceRef } from "@switchyard/schemas/Blob"
import type { RunRecord } from "@switchyard/schemas/RunRecord"
import type { ItemSource } from "../RunActor.ts"
import { metadataOf } from "../RunActor.ts"
import { mergeOutputs } from "./mergeOutputs.ts"
import { itemKey } from "./itemTasks.ts"
import { itemsTakenWhole, resolveTemplates } from "./template.ts"

const textEncoder = new TextEncoder()
const textDecoder = new TextDecoder()

/** Outputs read at once while combining. */
const readConcurrency = 32

/** A failure to say in the stage's error. */
export interface FanOutProblem {
  readonly message: string
}

/** A failure of the bus or the blob store, as a problem to say in the stage's error. */
const problem = (error: { readonly message: string }): FanOutProblem => ({ message: error.message })

const isJson = Schema.is(Schema.Json)

/** The value, checked to be JSON (every value read or written here came from JSON). */
const asJson = (value: unknown, what: string): Effect.Effect<Schema.Json, FanOutProblem> =>
  isJson(value) ? Effect.succeed(value) : Effect.fail({ message: `${what} is ${describe(value)} that is not JSON` })

/** The slots a stage writes, each checked to be JSON. */
const jsonSlots = (slots: Record<string, unknown>): Effect.Effect<Record<string, Schema.Json>, FanOutProblem> =>
  Effect.map(
    Effect.forEach(Object.entries(slots), ([key, value]) => Effect.map(asJson(value, `state slot ${key}`), (json) => [key, json] as const)),
    Object.fromEntries
  )

const describe = (value: unknown): string =>
  value === null ? "null" : Array.isArray(value) ? "a list" : typeof value === "object" ? "an object" : `a ${typeof value}`

/** The data side of `for_each` stages over the item results bucket and the blob store. */
export const makeFanOut = (options: {
  readonly items: KvStore
  readonly blobs: BlobStore["Service"]
  /** Values larger than this many bytes of JSON are stored as blobs. */
  readonly threshold: number
}) => {
  const { blobs, items, threshold } = options
  // Lists read while combining (the segment lists of stored outputs), by digest.
  const cache: ContentCache = new Lru<string, unknown>(64)

  /** A JSON value a reference stands for, with the references inside it read too. */
  const contentOf = (value: unknown): Effect.Effect<unknown, FanOutProblem> =>
    !isBlobRef(value) || !isReadable(value)
      ? Effect.succeed(value)
      : resolve(value).pipe(Effect.provideService(BlobStore, blobs), Effect.mapError(problem))

  /** A value's content as `contentOf` reads it, checked to be JSON. */
  const jsonContentOf = (value: unknown): Effect.Effect<Schema.Json, FanOutProblem> =>
    Effect.flatMap(contentOf(value), (content) => asJson(content, "the content read"))

  /** The value, or a reference to it stored as a blob when its JSON is larger than the threshold. */
  const small = (value: unknown): Effect.Effect<Schema.Json, FanOutProblem> =>
    externalize(value, threshold).pipe(
      Effect.provideService(BlobStore, blobs),
      Effect.mapError(problem),
      Effect.flatMap((stored) => asJson(stored, "the value stored"))
    )

  /** The list a `for_each` stage runs over, from the run's state, inputs or ledger as they are now. */
  const load = (doc: RunRecord, stage: string): Effect.Effect<ItemSource, FanOutProblem> => {
    const definition = doc.pipeline.stages.find((candidate) => candidate.name === stage)!
    const value = resolveTemplates(definition.for_each!, {
      inputs: doc.inputs,
      state: doc.state,
      ledger: doc.ledger,
      run: { id: doc.runId }
    })
    if (
      isBlobRef(value) &&
      isReadable(value) &&
      !isPartRef(value) &&
      value.length !== undefined &&
      itemsTakenWhole([definition.inputs, definition.config])
    ) {
      const ref = value
      return Effect.succeed({ length: ref.length!, slice: (from, to) => ({ items: sliceRef(ref, from, to), item: elementRef(ref, from) }) })
    }
    return contentOf(value).pipe(
      Effect.flatMap((list) =>
        Array.isArray(list)
          ? Effect.succeed({
              length: list.length,
              slice: (from: number, to: number) => ({ items: list.slice(from, to), item: list[from] })
            })
          : Effect.fail({ message: `${definition.for_each} is ${describe(list)}, expected a list` })
      )
    )
  }

  /** Keeps a finished task's output (a reference when the executor stored it as a blob) until the stage combines. */
  const store = (runId: string, stage: string, index: number, output: unknown) =>
    items.put(itemKey(runId, stage, index), textEncoder.encode(JSON.stringify(output ?? null)))

  /** A finished task's output as kept: a reference where the executor stored it as a blob. */
  const readOutput = (runId: string, stage: string, index: number): Effect.Effect<unknown, FanOutProblem> =>
    items.get(itemKey(runId, stage, index)).pipe(
      Effect.mapError(problem),
      Effect.flatMap(
        Option.match({
          onNone: () =>
            Effect.fail({
              message: `the output of task ${index} is missing from bucket ${items.bucket} (key ${itemKey(runId, stage, index)})`
            }),
          onSome: (entry) => Effect.succeed(JSON.parse(textDecoder.decode(entry.value)) as unknown)
        })
      )
    )

  /** Reads the outputs of tasks `indexes` in order, a window at a time, handing each to `use`. */
  const eachOutput = (
    runId: string,
    stage: string,
    indexes: ReadonlyArray<number>,
    use: (output: unknown, index: number) => Effect.Effect<void, FanOutProblem>
  ) =>
    Effect.gen(function* () {
      for (let start = 0; start < indexes.length; start += readConcurrency) {
        const window = indexes.slice(start, start + readConcurrency)
        const outputs = yield* Effect.forEach(window, (index) => readOutput(runId, stage, index), { concurrency: readConcurrency })
        for (let i = 0; i < window.length; i++) yield* use(outputs[i], window[i]!)
      }
    })

  /**
   * The slots a finished `for_each` stage writes (big ones as blob references) and the slots'
   * values they were computed from. `set`, `append` and `unpack` write lists built as the
   * outputs are read; `merge` reads every output and merges them.
   */
  const combine = (doc: RunRecord, stage: string) =>
    Effect.gen(function* () {
      const run = doc.stages[stage]!
      const tally = run.items!
      const metadata = metadataOf(doc, run)
      const skipped = new Set(tally.skipped)
      const indexes = Array.from({ length: tally.tasks }, (_, index) => index).filter((index) => !skipped.has(index))
      const keys = metadata.stateKey === null ? [] : typeof metadata.stateKey === "string" ? [metadata.stateKey] : metadata.stateKey
      const seen: Record<string, unknown> = {}
      if (metadata.output === "merge") {
        const outputs = yield* Effect.forEach(indexes, (index) => Effect.flatMap(readOutput(doc.runId, stage, index), contentOf), {
          concurrency: readConcurrency
        })
        const slots: Record<string, unknown> = {}
        for (const key of keys) {
          seen[key] = doc.state[key]
          const merged = mergeOutputs(outputs, yield* contentOf(doc.state[key]))
          if (merged._tag === "Rejected") return yield* Effect.fail({ message: merged.message })
          slots[key] = yield* small(merged.value)
        }
        return { slots: yield* jsonSlots(slots), seen }
      }
      if (metadata.output === "none" || keys.length === 0) return { slots: {}, seen }
      if (metadata.output !== "set" && metadata.output !== "append" && metadata.output !== "unpack")
        return yield* Effect.fail({ message: `unknown output mode ${metadata.output}` })
      const unpack = metadata.output === "unpack"
      // `set` and `append` give every slot the same list; `unpack` one list per slot.
      const writers = (unpack ? keys : keys.slice(0, 1)).map(() => makeListWriter(blobs, threshold, cache))
      if (metadata.output === "append") {
        seen[keys[0]!] = doc.state[keys[0]!]
        yield* Effect.mapError(writers[0]!.add(doc.state[keys[0]!]), problem)
      }
      yield* eachOutput(doc.runId, stage, indexes, (stored, index) =>
        Effect.gen(function* () {
          if (!unpack) return yield* Effect.mapError(writers[0]!.add(stored), problem)
          // An output the executor stored whole is read back for its fields (themselves references when big).
          const output = isBlobRef(stored) ? yield* Effect.mapError(readPart(blobs, cache, stored), problem) : stored
          if (!Predicate.isObject(output))
            return yield* Effect.fail({
              message: `output mode unpack expects an object with fields ${keys.join(", ")} from every task; task output ${index} is not one`
            })
          for (let k = 0; k < keys.length; k++) yield* Effect.mapError(writers[k]!.add(output[keys[k]!]), problem)
        })
      )
      const lists = yield* Effect.forEach(writers, (writer) => Effect.mapError(writer.finish, problem))
      const slots: Record<string, unknown> = {}
      keys.forEach((key, k) => {
        slots[key] = lists[unpack ? k : 0]
      })
      return { slots: yield* jsonSlots(slots), seen }
    })

  /** Drops a combined stage's stored outputs, leaving no marker (best effort: the entries are only needed until then). */
  const purge = (runId: string, stage: string, tasks: number) =>
    Effect.forEach(
      Array.from({ length: tasks }, (_, index) => index),
      (index) => items.purge(itemKey(runId, stage, index)),
      {
        concurrency: readConcurrency,
        discard: true
      }
    ).pipe(Effect.ignore)

  return { load, store, combine, purge, contentOf, jsonContentOf, small }
}
