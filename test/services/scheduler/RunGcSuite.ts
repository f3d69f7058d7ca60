/**
 * Run retention and blob garbage collection over a real bus and blob store:
 * finished runs past the retention go with their item results and the blobs
 * only they named; blobs another run names, the segments of a kept list, the
 * references inside kept JSON blobs, a running run's blobs and young blobs
 * stay; a dry run deletes nothing; a named blob that is missing is a warning.
 * Run once per bus adapter. Blobs are stored as the test runs, so a
 * collection "two hours later" (`now`) sees them past the grace period.
 */
import { describe, expect, it } from "@effect/vitest"
import { Clock, Context, Effect, Layer, Option, Schema, Stream } from "effect"
import type { Scope } from "effect"
import { gate } from "../../../plugins/core/gate.ts"
import { defineStage } from "../../../sdk/defineStage.ts"
import * as Codec from "../../../schemas/Codec.ts"
import { WireType } from "../../../schemas/Catalog.ts"
import { LedgerUpdate } from "../../../schemas/Run.ts"
import { eventually } from "../../support/eventually.ts"
import { makeStack } from "./harness.ts"
import { Bus } from "../../../services/bus/Bus.ts"
import { BlobStore } from "../../../services/bus/BlobStore.ts"
import { storeList } from "../../../services/bus/BlobList.ts"
import { type BlobRef, elementRef, jsonMediaType, makeBlobRef, sliceRef } from "../../../schemas/Blob.ts"
import { makeNames, type Names, Subjects } from "../../../schemas/Subjects.ts"
import { RunGc, RunStore } from "../../../services/scheduler/index.ts"
import type { GcOptions } from "../../../services/scheduler/index.ts"
import { blobStoreFor } from "../../support/blobs.ts"
import { uniquePrefix } from "../../support/unique.ts"

const encoder = new TextEncoder()
const hour = 60 * 60 * 1000
const day = 24 * hour

/** What a finished (or running) run's record holds, besides what every record has. */
interface RunFields {
  readonly status: "running" | "succeeded" | "failed" | "cancelled"
  readonly finishedAt?: number
  readonly createdAt?: number
  readonly state?: Record<string, unknown>
  readonly inputs?: Record<string, unknown>
  readonly ledger?: Record<string, unknown>
}

/** A run record as the scheduler writes it, of a pipeline without stages. */
export const recordJson = (runId: string, fields: RunFields): string =>
  JSON.stringify({
    version: 1,
    runId,
    file: "gc.yaml",
    pipeline: { name: "gc", stages: [] },
    inputs: fields.inputs ?? {},
    status: fields.status,
    state: fields.state ?? {},
    ledger: fields.ledger ?? {},
    types: {},
    stages: {},
    seq: 0,
    createdAt: fields.createdAt ?? fields.finishedAt ?? 0,
    ...(fields.finishedAt === undefined ? {} : { finishedAt: fields.finishedAt })
  })

/** One isolated deployment's run store, item results bucket, blob store and collector on the current bus (or those of a stack). */
const makeDeployment = (stack?: { readonly names: Names; readonly blobs: BlobStore["Service"] }) =>
  Effect.gen(function* () {
    const bus = yield* Bus
    const names = stack?.names ?? makeNames(uniquePrefix("gc"))
    const blobs = stack?.blobs ?? (yield* blobStoreFor(names))
    const context = yield* Layer.build(
      RunGc.layer.pipe(
        Layer.provideMerge(RunStore.layer),
        Layer.provide(Layer.mergeAll(Layer.succeed(Bus, bus), Layer.succeed(Subjects, names), Layer.succeed(BlobStore, blobs)))
      )
    )
    const runs = Context.get(context, RunStore)
    const gc = Context.get(context, RunGc)
    const items = yield* bus.kv(names.buckets.items)
    // Everything the test stores is past a one-hour grace period at `later`.
    const now = yield* Clock.currentTimeMillis
    const later = now + 2 * hour

    const run = (runId: string, fields: RunFields) => runs.create(runId, recordJson(runId, fields))
    const item = (key: string, value: unknown) => items.put(key, encoder.encode(JSON.stringify(value)))
    const pdf = (text: string) => blobs.put(encoder.encode(`%PDF-1.7 ${text}`), { mediaType: "application/pdf" })
    const json = (value: unknown) =>
      blobs.put(encoder.encode(JSON.stringify(value)), {
        mediaType: jsonMediaType,
        length: Array.isArray(value) ? value.length : undefined
      })
    /** A list stored in segments: the list blob's reference and the segments'. */
    const list = (segments: ReadonlyArray<ReadonlyArray<unknown>>) =>
      Effect.forEach(segments, json).pipe(Effect.flatMap((refs) => Effect.map(storeList(blobs, refs), (ref) => ({ ref, segments: refs }))))
    const present = (ref: BlobRef) => blobs.stat(ref).pipe(Effect.map(Option.isSome))
    const collect = (options: Partial<GcOptions> = {}) => gc.collect({ retention: "7 days", grace: "1 hour", now: later, ...options })
    const exists = (runId: string) => runs.load(runId).pipe(Effect.map(Option.isSome))
    const itemKeys = items.keys.pipe(Effect.map((keys) => [...keys].sort()))

    return { blobs, runs, items, now, later, run, item, pdf, json, list, present, collect, exists, itemKeys }
  })

const pages = defineStage({
  type: "test.pages",
  version: "1.0.0",
  description: "Lists page numbers.",
  plugin: "test",
  stateKey: "pages",
  output: "set",
  count: "length",
  inputs: Schema.Struct({}),
  outputs: Schema.Array(Schema.Int),
  run: async () => [1, 2, 3]
})

/** About 100 KB of lines per page: each task's output goes to the blob store. */
const render = defineStage({
  type: "test.render",
  version: "1.0.0",
  description: "Renders a page as lines.",
  plugin: "test",
  stateKey: "lines",
  output: "set",
  count: "length",
  inputs: Schema.Struct({ page: Schema.Int }),
  outputs: Schema.Array(Schema.String),
  run: async ({ page }) => Array.from({ length: 2000 }, (_, line) => `page ${page} line ${line} ${"x".repeat(40)}`)
})

const rendered = `
name: rendered
stages:
  - { name: pages, type: test.pages }
  - { name: render, type: test.render, depends_on: [pages], for_each: "{{ state.pages }}", inputs: { page: "{{ item }}" } }
  - name: approve
    type: core/core.gate
    depends_on: [render]
    inputs: { timeout_ms: 120000, conditions: { all: [{ field: approved, equals: true }] } }
`

export const runGcSuite = (name: string, makeBus: () => Layer.Layer<Bus, unknown>) =>
  describe(`run retention and blob collection over ${name}`, () => {
    const live = <A, E>(effect: Effect.Effect<A, E, Bus | Scope.Scope>) =>
      effect.pipe(Effect.scoped, Effect.provide(Layer.orDie(makeBus())))

    it.live("deletes a run that finished before the retention with its item results and the blobs only it named", () =>
      live(
        Effect.gen(function* () {
          const d = yield* makeDeployment()
          const report = yield* d.pdf("old report")
          const output = yield* d.json({ summary: "old output" })
          const kept = yield* d.pdf("recent report")
          // A run id may hold dots: the item keys of `nightly.1` are not those of `nightly`.
          yield* d.run("nightly.1", { status: "succeeded", finishedAt: d.later - 8 * day, state: { report } })
          yield* d.item("nightly.1.split.0", output)
          yield* d.item("nightly.1.split.1", { inline: true })
          yield* d.run("nightly", { status: "failed", finishedAt: d.later - 1 * day, state: { report: kept } })
          yield* d.item("nightly.split.0", { inline: true })

          const result = yield* d.collect()

          expect(result).toMatchObject({
            dryRun: false,
            runsDeleted: ["nightly.1"],
            runsKept: 1,
            itemsDeleted: 2,
            blobsDeleted: 2,
            blobsKept: 1,
            bytesFreed: report.size + output.size,
            warnings: []
          })
          expect(yield* d.exists("nightly.1")).toBe(false)
          expect(yield* d.exists("nightly")).toBe(true)
          expect(yield* d.itemKeys).toEqual(["nightly.split.0"])
          expect(yield* d.present(report)).toBe(false)
          expect(yield* d.present(output)).toBe(false)
          expect(yield* d.present(kept)).toBe(true)
        })
      )
    )

    it.live("keeps what a scheduler stored for a run while it runs and after, and collects it once the run is past the retention", () =>
      live(
        Effect.gen(function* () {
          const stack = yield* makeStack("gcreal")
          yield* stack.registry
          yield* stack.executor({ pool: "test", definitions: [pages, render, gate] })
          const scheduler = yield* stack.scheduler()
          yield* stack.registered(["test.pages", "test.render", "core/core.gate"])
          const d = yield* makeDeployment(stack)
          const runId = (yield* stack.submit(rendered)).runId!
          yield* eventually(
            "the run to wait at its gate",
            Effect.gen(function* () {
              const doc = Option.getOrUndefined(yield* scheduler.service.get(runId))
              if (doc?.stages["approve"]?.status !== "waiting") return yield* Effect.fail(JSON.stringify(doc?.stages))
            }),
            { timeout: "60 seconds" }
          )
          const stored = yield* Stream.runCollect(d.blobs.list)
          // Three task outputs and the list combined from them, at least.
          expect(stored.length).toBeGreaterThanOrEqual(4)

          const whileRunning = yield* d.collect({ now: d.later + 60 * day })
          expect(whileRunning).toMatchObject({ runsDeleted: [], runsKept: 1, blobsDeleted: 0, blobsKept: stored.length, warnings: [] })

          const update = Codec.encode(
            LedgerUpdate,
            WireType.LedgerUpdate,
            new LedgerUpdate({ version: 1, runId, fields: { approved: true } })
          )
          yield* stack.bus.publish(stack.names.ledgerUpdate(runId), update.data, { headers: update.headers })
          const { finished } = yield* stack.finished(runId, "60 seconds")
          expect(finished.status).toBe("succeeded")

          const recent = yield* d.collect()
          expect(recent).toMatchObject({ runsDeleted: [], blobsDeleted: 0, blobsKept: stored.length, warnings: [] })

          const expired = yield* d.collect({ now: d.later + 8 * day })
          expect(expired).toMatchObject({ runsDeleted: [runId], runsKept: 0, blobsDeleted: stored.length, blobsKept: 0, warnings: [] })
          expect(yield* d.exists(runId)).toBe(false)
          expect(yield* d.itemKeys).toEqual([])
          expect(yield* Stream.runCollect(d.blobs.list)).toEqual([])
        })
      )
    )

    it.live("keeps a blob that a deleted run shared with a run it keeps", () =>
      live(
        Effect.gen(function* () {
          const d = yield* makeDeployment()
          const shared = yield* d.pdf("the same input file")
          const own = yield* d.pdf("only the old run's")
          yield* d.run("old", { status: "cancelled", finishedAt: d.later - 30 * day, inputs: { file: shared }, state: { own } })
          yield* d.run("recent", { status: "succeeded", finishedAt: d.later - 2 * day, inputs: { file: shared } })

          const result = yield* d.collect()

          expect(result).toMatchObject({ runsDeleted: ["old"], blobsDeleted: 1, blobsKept: 1, bytesFreed: own.size })
          expect(yield* d.present(shared)).toBe(true)
          expect(yield* d.present(own)).toBe(false)
        })
      )
    )

    it.live("keeps the segments of a kept list, the references inside kept JSON blobs and the whole of a partly referenced list", () =>
      live(
        Effect.gen(function* () {
          const d = yield* makeDeployment()
          const page = yield* d.pdf("a page inside a segment")
          const chunks = yield* d.list([
            [1, 2, { page }],
            [3, 4]
          ])
          const scan = yield* d.pdf("a scan two JSON blobs down")
          const inner = yield* d.json({ pages: [scan] })
          const outer = yield* d.json({ title: "nested", body: inner })
          const documents = yield* d.list([["a", "b"], ["c"]])
          const unnamed = yield* d.json({ nobody: "names this" })
          yield* d.run("kept", {
            status: "succeeded",
            finishedAt: d.later - day,
            state: { chunks: chunks.ref },
            ledger: { doc: outer },
            inputs: { part: sliceRef(documents.ref, 0, 1), first: elementRef(documents.ref, 0) }
          })

          const result = yield* d.collect()

          // chunks: the list blob and 2 segments; documents: the list blob and 2 segments.
          expect(result).toMatchObject({ runsDeleted: [], blobsDeleted: 1, blobsKept: 10, bytesFreed: unnamed.size, warnings: [] })
          expect(yield* d.present(unnamed)).toBe(false)
          for (const ref of [page, scan, inner, outer, chunks.ref, ...chunks.segments, documents.ref, ...documents.segments])
            expect(yield* d.present(ref)).toBe(true)
        })
      )
    )

    it.live("never deletes a running run, its item results or its blobs, however long ago it started", () =>
      live(
        Effect.gen(function* () {
          const d = yield* makeDeployment()
          const slot = yield* d.pdf("a running run's slot")
          const output = yield* d.pdf("a running run's item output")
          const old = yield* d.pdf("a long finished run's slot")
          yield* d.run("live", { status: "running", createdAt: d.later - 60 * day, state: { slot } })
          yield* d.item("live.embed.3", output)
          yield* d.run("done", { status: "succeeded", finishedAt: d.later - 60 * day, state: { old } })

          const result = yield* d.collect()

          expect(result).toMatchObject({ runsDeleted: ["done"], runsKept: 1, itemsDeleted: 0, blobsDeleted: 1, blobsKept: 2 })
          expect(yield* d.exists("live")).toBe(true)
          expect(yield* d.itemKeys).toEqual(["live.embed.3"])
          expect(yield* d.present(slot)).toBe(true)
          expect(yield* d.present(output)).toBe(true)
          expect(yield* d.present(old)).toBe(false)
        })
      )
    )

    it.live("keeps a blob nothing names until it is older than the grace period", () =>
      live(
        Effect.gen(function* () {
          const d = yield* makeDeployment()
          const young = yield* d.pdf("stored for a task in flight")

          const first = yield* d.collect({ now: d.now })
          expect(first).toMatchObject({ blobsDeleted: 0, blobsKept: 1 })
          expect(yield* d.present(young)).toBe(true)

          const second = yield* d.collect({ now: d.later })
          expect(second).toMatchObject({ blobsDeleted: 1, blobsKept: 0, bytesFreed: young.size })
          expect(yield* d.present(young)).toBe(false)
        })
      )
    )

    it.live("reports in a dry run what a collection deletes, and deletes nothing", () =>
      live(
        Effect.gen(function* () {
          const d = yield* makeDeployment()
          const report = yield* d.pdf("old report")
          const output = yield* d.json({ summary: "old output" })
          yield* d.run("old", { status: "succeeded", finishedAt: d.later - 8 * day, state: { report } })
          yield* d.item("old.split.0", output)

          const dry = yield* d.collect({ dryRun: true })

          expect(dry).toMatchObject({
            dryRun: true,
            runsDeleted: ["old"],
            runsKept: 0,
            itemsDeleted: 1,
            blobsDeleted: 2,
            blobsKept: 0,
            bytesFreed: report.size + output.size
          })
          expect(yield* d.exists("old")).toBe(true)
          expect(yield* d.itemKeys).toEqual(["old.split.0"])
          expect(yield* d.present(report)).toBe(true)
          expect(yield* d.present(output)).toBe(true)

          const wet = yield* d.collect()
          expect(wet).toEqual({ ...dry, dryRun: false })
          expect(yield* d.exists("old")).toBe(false)
          expect(yield* d.present(report)).toBe(false)
        })
      )
    )

    it.live("deletes item results whose run has no record, and the blobs only they named", () =>
      live(
        Effect.gen(function* () {
          const d = yield* makeDeployment()
          const output = yield* d.pdf("an orphan's output")
          yield* d.item("ghost.split.0", output)

          const result = yield* d.collect()

          expect(result).toMatchObject({ runsDeleted: [], itemsDeleted: 1, blobsDeleted: 1 })
          expect(yield* d.itemKeys).toEqual([])
          expect(yield* d.present(output)).toBe(false)
        })
      )
    )

    it.live("warns of named blobs that are missing and of records it cannot decode, and keeps going", () =>
      live(
        Effect.gen(function* () {
          const d = yield* makeDeployment()
          const gone = makeBlobRef({ sha256: "ab".repeat(32), size: 10, mediaType: jsonMediaType })
          const goneFile = makeBlobRef({ sha256: "cd".repeat(32), size: 10, mediaType: "application/pdf" })
          const novel = yield* d.pdf("named by a field this version does not know")
          yield* d.run("broken", { status: "succeeded", finishedAt: d.later - day, state: { gone, goneFile } })
          // A record of a later version: not decodable here, kept, and read for references all the same.
          yield* d.runs.create("future", JSON.stringify({ version: 2, runId: "future", status: "succeeded", attachments: [novel] }))

          const result = yield* d.collect()

          expect(result).toMatchObject({ runsDeleted: [], runsKept: 2, blobsDeleted: 0, blobsKept: 1 })
          expect(yield* d.present(novel)).toBe(true)
          expect(result.warnings).toHaveLength(3)
          expect(result.warnings).toEqual(
            expect.arrayContaining([
              expect.stringMatching(new RegExp(`^run broken names blob ${gone.$blob}, which is missing from `)),
              expect.stringMatching(new RegExp(`^run broken names blob ${goneFile.$blob}, which is missing from `)),
              expect.stringMatching(/^run record future does not decode \(.*\); kept$/s)
            ])
          )
        })
      )
    )
  })
