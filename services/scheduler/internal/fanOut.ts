/**
 * The data side of `for_each` stages: loading a stage's list (from the run
 * state, or from the blob a reference names), keeping each finished task's
 * output in the run's item results bucket (`<runId>.<stage>.<index>`) before
 * its result is applied, and combining the outputs in task order once every
 * task finished, storing big slots as blobs. The run record only counts.
 */
import { Effect, Option } from "effect"
import type { KvStore } from "@switchyard/bus/Bus"
import { BlobStore } from "@switchyard/bus/BlobStore"
import { externalize } from "@switchyard/bus/BlobJson"
import { isBlobRef, jsonMediaType } from "@switchyard/schemas/Blob"
import type { RunDoc } from "../RunActor.ts"
import { metadataOf } from "../RunActor.ts"
import { combineOutputs } from "./combineOutputs.ts"
import { itemKey } from "./itemTasks.ts"
import { resolveTemplates } from "./template.ts"

const textEncoder = new TextEncoder()
const textDecoder = new TextDecoder()

/** Outputs read at once while combining. */
const readConcurrency = 32

/** A failure to say in the stage's error. */
export interface FanOutProblem {
  readonly message: string
}

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

  /** A JSON value a reference stands for: the blob's content, parsed (references inside stay references). */
  const contentOf = (value: unknown): Effect.Effect<unknown, FanOutProblem> =>
    !isBlobRef(value) || value.mediaType !== jsonMediaType
      ? Effect.succeed(value)
      : blobs.get(value).pipe(
          Effect.flatMap((bytes) =>
            Effect.try({
              try: () => JSON.parse(textDecoder.decode(bytes)) as unknown,
              catch: (error) => ({ message: `blob ${value.$blob} is not JSON: ${String(error)}` })
            })
          ),
          Effect.mapError((error) => ({ message: error.message }))
        )

  /** The value, or a reference to it stored as a blob when its JSON is larger than the threshold. */
  const small = (value: unknown): Effect.Effect<unknown, FanOutProblem> =>
    externalize(value, threshold).pipe(
      Effect.provideService(BlobStore, blobs),
      Effect.mapError((error) => ({ message: error.message }))
    )

  /** The list a `for_each` stage runs over, from the run's state, inputs or ledger as they are now. */
  const load = (doc: RunDoc, stage: string): Effect.Effect<ReadonlyArray<unknown>, FanOutProblem> => {
    const definition = doc.pipeline.stages.find((candidate) => candidate.name === stage)!
    const value = resolveTemplates(definition.for_each!, {
      inputs: doc.inputs,
      state: doc.state,
      ledger: doc.ledger,
      run: { id: doc.runId }
    })
    return contentOf(value).pipe(
      Effect.flatMap((list) =>
        Array.isArray(list)
          ? Effect.succeed(list)
          : Effect.fail({ message: `${definition.for_each} is ${describe(list)}, expected a list` })
      )
    )
  }

  /** Keeps a finished task's output (a reference when the executor stored it as a blob) until the stage combines. */
  const store = (runId: string, stage: string, index: number, output: unknown) =>
    items.put(itemKey(runId, stage, index), textEncoder.encode(JSON.stringify(output ?? null)))

  const readOutput = (runId: string, stage: string, index: number): Effect.Effect<unknown, FanOutProblem> =>
    items.get(itemKey(runId, stage, index)).pipe(
      Effect.mapError((error) => ({ message: error.message })),
      Effect.flatMap(
        Option.match({
          onNone: () =>
            Effect.fail({
              message: `the output of task ${index} is missing from bucket ${items.bucket} (key ${itemKey(runId, stage, index)})`
            }),
          onSome: (entry) => Effect.succeed(JSON.parse(textDecoder.decode(entry.value)) as unknown)
        })
      ),
      // A list the executor stored as a blob is spliced in element by element.
      Effect.flatMap(contentOf)
    )

  /**
   * The slots a finished `for_each` stage writes (big ones as blob references) and the slots'
   * values they were computed from.
   */
  const combine = (doc: RunDoc, stage: string) =>
    Effect.gen(function* () {
      const run = doc.stages[stage]!
      const tally = run.items!
      const metadata = metadataOf(doc, run)
      const skipped = new Set(tally.skipped)
      const indexes = Array.from({ length: tally.tasks }, (_, index) => index).filter((index) => !skipped.has(index))
      const keys = metadata.stateKey === null ? [] : typeof metadata.stateKey === "string" ? [metadata.stateKey] : metadata.stateKey
      // `unpack` concatenates each task's fields: a field the executor stored as a blob is read back to splice it in.
      const unpacked = (output: unknown) =>
        metadata.output !== "unpack" || output === null || typeof output !== "object" || Array.isArray(output)
          ? Effect.succeed(output)
          : Effect.map(
              Effect.forEach(keys, (key) =>
                Effect.map(contentOf((output as Record<string, unknown>)[key]), (value) => [key, value] as const)
              ),
              (fields) => ({ ...(output as Record<string, unknown>), ...Object.fromEntries(fields) })
            )
      const outputs = yield* Effect.forEach(indexes, (index) => Effect.flatMap(readOutput(doc.runId, stage, index), unpacked), {
        concurrency: readConcurrency
      })
      const reads = metadata.output === "append" || metadata.output === "merge"
      const seen: Record<string, unknown> = {}
      const current: Record<string, unknown> = {}
      if (reads) {
        for (const key of keys) {
          seen[key] = doc.state[key]
          current[key] = yield* contentOf(doc.state[key])
        }
      }
      const combined = combineOutputs({ mode: metadata.output, stateKey: metadata.stateKey, outputs, current })
      if (combined._tag === "Rejected") return yield* Effect.fail({ message: combined.message })
      const slots: Record<string, unknown> = {}
      for (const [key, value] of Object.entries(combined.slots)) slots[key] = yield* small(value)
      return { slots, seen }
    })

  /** Drops a combined stage's stored outputs (best effort: the bucket's entries are only needed until then). */
  const purge = (runId: string, stage: string, tasks: number) =>
    Effect.forEach(
      Array.from({ length: tasks }, (_, index) => index),
      (index) => items.delete(itemKey(runId, stage, index)),
      {
        concurrency: readConcurrency,
        discard: true
      }
    ).pipe(Effect.ignore)

  return { load, store, combine, purge, contentOf, small }
}
