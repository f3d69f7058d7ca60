/**
 * Run retention and blob garbage collection. `collect` deletes the runs that
 * finished longer ago than the retention (their item results first, then
 * their record), marks every blob still named, and sweeps the blobs that are
 * neither marked nor younger than the grace period.
 *
 * A blob is marked when a remaining run record names it (anywhere in the
 * record, read as stored, fields this version does not know included), when
 * a remaining item result names it, when it was stored within the grace
 * period, or when a marked list blob or JSON blob names it: list blobs are
 * followed to their segments and JSON content is read for the references
 * inside it. A reference to part of a list (`from`/`to`, `at`) marks the
 * whole blob. Content is read a few blobs at a time and each blob once.
 *
 * It runs beside a live deployment, whose scheduler keeps moving references
 * between records, item results and new blobs; the order of the passes keeps
 * each move in sight:
 *
 * - Item results are read before the records: combining a stage moves
 *   references from its item results into the run's record (and then drops
 *   the results), so a reference missed in one is found in the other.
 * - Young blobs are marked and followed like records: a list combined from
 *   stored outputs is new while the segments it names may be old, and a
 *   kept blob never names a deleted one.
 * - Item keys are listed before the runs, so an item result whose run has no
 *   record is an orphan (its run was deleted), never an item of a run
 *   created after the listing.
 *
 * References held only by tasks and results in flight are covered by the
 * grace period alone, as blobs stored for them are young.
 */
import { Clock, Context, Duration, Effect, Layer, Option, Result, Stream } from "effect"
import { Bus } from "@switchyard/bus/Bus"
import type { BusError } from "@switchyard/bus/BusError"
import { BlobStore } from "@switchyard/bus/BlobStore"
import type { BlobError } from "@switchyard/bus/BlobError"
import { isReadable, parseJson } from "@switchyard/bus/BlobList"
import { type BlobRef, hasValidDigest, isBlobRef } from "@switchyard/schemas/Blob"
import { Subjects } from "@switchyard/schemas/Subjects"
import { RunStore } from "./RunStore.ts"
import { itemRunOf } from "./internal/itemTasks.ts"

/** What `collect` is told. */
export interface GcOptions {
  /** A finished run (succeeded, failed or cancelled) is deleted once it finished longer ago than this. */
  readonly retention: Duration.Input
  /** A blob nothing names is kept until it was stored longer ago than this (tasks and results in flight name blobs no record names yet). */
  readonly grace: Duration.Input
  /** The time both are measured back from, in epoch milliseconds; the clock's when absent. */
  readonly now?: number
  /** Reports what would be deleted and deletes nothing. */
  readonly dryRun?: boolean
}

/** What `collect` did, or with `dryRun` would do. */
export interface GcReport {
  readonly dryRun: boolean
  /** Finished runs that finished before this (epoch milliseconds) are deleted. */
  readonly runsFinishedBefore: number
  /** Blobs nothing names that were stored before this (epoch milliseconds) are deleted. */
  readonly blobsStoredBefore: number
  /** Ids of the runs deleted, sorted. */
  readonly runsDeleted: ReadonlyArray<string>
  /** Run records that remain. */
  readonly runsKept: number
  /** Item results deleted: those of the deleted runs and those whose run has no record. */
  readonly itemsDeleted: number
  readonly blobsKept: number
  readonly blobsDeleted: number
  /** Bytes of the blobs deleted. */
  readonly bytesFreed: number
  /** Records, item results and blobs that could not be read, and blobs named but missing; none stops the collection. */
  readonly warnings: ReadonlyArray<string>
}

// Records, item results and blobs read (or deleted) at once.
const concurrency = 16
const blobConcurrency = 8

const textDecoder = new TextDecoder()

/** Blobs marked so far and the blobs whose content is still to be read for the references inside. */
const makeMarker = (store: BlobStore["Service"], warn: (warning: string) => void) => {
  // Digest → what named it first, for the warnings.
  const marked = new Map<string, string>()
  const queued = new Set<string>()
  const missing = new Set<string>()
  let pending: Array<{ readonly ref: BlobRef; readonly from: string }> = []

  /** Marks every reference in `value` (not looking inside references), queueing readable blobs not read yet. */
  const visit = (value: unknown, from: string): void => {
    const stack: Array<unknown> = [value]
    while (stack.length > 0) {
      const node = stack.pop()
      if (typeof node !== "object" || node === null) continue
      if (isBlobRef(node)) {
        if (!hasValidDigest(node)) {
          warn(`${from} holds a reference whose $blob is not sha256: and 64 lowercase hex digits: ${JSON.stringify(node.$blob)}`)
          continue
        }
        if (!marked.has(node.$blob)) marked.set(node.$blob, from)
        if (isReadable(node) && !queued.has(node.$blob)) {
          queued.add(node.$blob)
          pending.push({ ref: node, from })
        }
      } else if (Array.isArray(node)) {
        for (const child of node) stack.push(child)
      } else {
        for (const child of Object.values(node)) stack.push(child)
      }
    }
  }

  const readOne = ({ from, ref }: { readonly ref: BlobRef; readonly from: string }): Effect.Effect<void, BlobError> => {
    // The whole blob, whatever part of it the reference stands for.
    const whole: BlobRef = { $blob: ref.$blob, size: ref.size, mediaType: ref.mediaType }
    return store.get(whole).pipe(
      Effect.flatMap((bytes) => parseJson(whole, store.location, bytes)),
      Effect.map((content) => visit(content, `blob ${ref.$blob}`)),
      Effect.catchTags({
        BlobMissingError: () =>
          Effect.sync(() => {
            missing.add(ref.$blob)
            warn(`${from} names blob ${ref.$blob}, which is missing from ${store.location}`)
          }),
        BlobCorruptError: (error) =>
          Effect.sync(() => warn(`blob ${ref.$blob}, named by ${from}, was kept unread: ${error.message}; what it names is not marked`))
      })
    )
  }

  /** Reads the queued blobs, and those they name, until none is left. */
  const drain: Effect.Effect<void, BlobError> = Effect.suspend(() => {
    if (pending.length === 0) return Effect.void
    const batch = pending
    pending = []
    return Effect.andThen(Effect.forEach(batch, readOne, { concurrency: blobConcurrency, discard: true }), drain)
  })

  return { visit, drain, marked, missing }
}

/** The collector of finished runs and unnamed blobs. */
export class RunGc extends Context.Service<
  RunGc,
  {
    /** Deletes expired runs and unnamed old blobs (with `dryRun`, only reports them). */
    readonly collect: (options: GcOptions) => Effect.Effect<GcReport, BusError | BlobError>
  }
>()("switchyard/scheduler/RunGc") {
  static readonly layer: Layer.Layer<RunGc, BusError, Bus | BlobStore | RunStore> = Layer.effect(
    RunGc,
    Effect.gen(function* () {
      const bus = yield* Bus
      const names = yield* Subjects
      const runs = yield* RunStore
      const blobs = yield* BlobStore
      const items = yield* bus.kv(names.buckets.items)

      const collect = Effect.fn("RunGc.collect")(function* (options: GcOptions) {
        const now = options.now ?? (yield* Clock.currentTimeMillis)
        const dryRun = options.dryRun ?? false
        const runsFinishedBefore = now - Duration.toMillis(Duration.fromInputUnsafe(options.retention))
        const blobsStoredBefore = now - Duration.toMillis(Duration.fromInputUnsafe(options.grace))
        const warnings: Array<string> = []
        const warn = (warning: string) => void warnings.push(warning)
        const marker = makeMarker(blobs, warn)
        const unless = (effect: Effect.Effect<void, BusError | BlobError>) => (dryRun ? Effect.void : effect)

        // Which runs go: before the records are read for references, since item results are read in between.
        const itemKeys = yield* items.keys
        const present = new Set<string>()
        const expired = new Set<string>()
        yield* Stream.runForEach(runs.scan, (run) =>
          Effect.sync(() => {
            present.add(run.runId)
            const doc = Result.getOrUndefined(run.doc)
            if (doc !== undefined && doc.status !== "running" && doc.finishedAt !== undefined && doc.finishedAt < runsFinishedBefore)
              expired.add(run.runId)
          })
        )

        let itemsDeleted = 0
        yield* Effect.forEach(
          itemKeys,
          (key) => {
            const runId = itemRunOf(key)
            if (runId !== undefined && (expired.has(runId) || !present.has(runId)))
              return unless(items.purge(key)).pipe(Effect.andThen(Effect.sync(() => void itemsDeleted++)))
            return items.get(key).pipe(
              Effect.map(
                Option.map((entry) => {
                  const json = Result.try(() => JSON.parse(textDecoder.decode(entry.value)) as unknown)
                  if (Result.isSuccess(json)) marker.visit(json.success, `item ${key}`)
                  else warn(`item ${key} in bucket ${items.bucket} is not JSON; what it names is not marked`)
                })
              )
            )
          },
          { concurrency, discard: true }
        )

        // Item results first: a crash in between leaves the record, and the next collection finds both.
        yield* Effect.forEach(expired, (runId) => unless(runs.delete(runId)), { concurrency, discard: true })

        let runsKept = 0
        yield* Stream.runForEach(runs.scan, (run) =>
          Effect.sync(() => {
            if (expired.has(run.runId)) return
            runsKept++
            if (Result.isFailure(run.doc)) warn(`run record ${run.runId} does not decode (${run.doc.failure}); kept`)
            if (run.json === undefined) warn(`run record ${run.runId} is not JSON; what it names is not marked`)
            else marker.visit(run.json, `run ${run.runId}`)
          })
        )

        yield* Stream.runForEach(blobs.list, (entry) =>
          Effect.sync(() => {
            if (entry.storedAt >= blobsStoredBefore) marker.visit(entry.ref, "a blob stored within the grace period")
          })
        )
        yield* marker.drain

        // Young blobs were marked above; one stored since is young here, and kept all the same.
        let blobsKept = 0
        let blobsDeleted = 0
        let bytesFreed = 0
        const listed = new Set<string>()
        yield* blobs.list.pipe(
          Stream.mapEffect(
            (entry) => {
              const digest = entry.ref.$blob
              if (marker.marked.has(digest)) listed.add(digest)
              if (marker.marked.has(digest) || entry.storedAt >= blobsStoredBefore) return Effect.sync(() => void blobsKept++)
              return unless(blobs.delete(entry.ref)).pipe(
                Effect.andThen(
                  Effect.sync(() => {
                    blobsDeleted++
                    bytesFreed += entry.ref.size
                  })
                )
              )
            },
            { concurrency: blobConcurrency }
          ),
          Stream.runDrain
        )
        for (const [digest, from] of marker.marked)
          if (!listed.has(digest) && !marker.missing.has(digest))
            warn(`${from} names blob ${digest}, which is missing from ${blobs.location}`)

        yield* Effect.annotateCurrentSpan({
          "switchyard.gc.dry_run": dryRun,
          "switchyard.gc.runs_deleted": expired.size,
          "switchyard.gc.items_deleted": itemsDeleted,
          "switchyard.gc.blobs_deleted": blobsDeleted,
          "switchyard.gc.bytes_freed": bytesFreed
        })
        return {
          dryRun,
          runsFinishedBefore,
          blobsStoredBefore,
          runsDeleted: [...expired].sort(),
          runsKept,
          itemsDeleted,
          blobsKept,
          blobsDeleted,
          bytesFreed,
          warnings
        } satisfies GcReport
      })

      return RunGc.of({ collect })
    })
  )
}
