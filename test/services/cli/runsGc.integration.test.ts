/**
 * `switchyard runs gc` as a real process against a deployment on the test
 * nats-server: what it prints in a dry run and with `--json`, what it then
 * deleted, and the exit code 2 with one line naming the flag or variable
 * whose duration does not parse.
 */
import { assert, describe, it } from "@effect/vitest"
import { Clock, Context, Effect, Layer, Option } from "effect"
import { inject } from "vitest"
import { BlobStore } from "../../../services/bus/BlobStore.ts"
import * as NatsBlobStore from "../../../services/bus/NatsBlobStore.ts"
import * as NatsBus from "../../../services/bus/NatsBus.ts"
import { makeNames, Subjects } from "../../../schemas/Subjects.ts"
import { RunStore } from "../../../services/scheduler/index.ts"
import type { GcReport } from "../../../services/scheduler/index.ts"
import { runCli } from "../../e2e/support/CliProcess.ts"
import { uniquePrefix } from "../../support/unique.ts"
import { recordJson } from "../scheduler/RunGcSuite.ts"

const encoder = new TextEncoder()
const day = 24 * 60 * 60 * 1000

/** A deployment under a fresh prefix with a run finished 8 days ago and one finished yesterday, each naming a PDF of its own. */
const seeded = Effect.gen(function* () {
  const prefix = uniquePrefix("gc")
  const names = makeNames(prefix)
  const context = yield* Layer.build(
    Layer.mergeAll(RunStore.layer, NatsBlobStore.layer()).pipe(
      Layer.provideMerge(NatsBus.layer({ url: inject("natsUrl"), name: "runs-gc-test" })),
      Layer.provide(Layer.succeed(Subjects, names))
    )
  ).pipe(Effect.provideService(Subjects, names))
  const runs = Context.get(context, RunStore)
  const blobs = Context.get(context, BlobStore)
  const now = yield* Clock.currentTimeMillis
  const old = yield* blobs.put(encoder.encode("%PDF-1.7 old"), { mediaType: "application/pdf" })
  const recent = yield* blobs.put(encoder.encode("%PDF-1.7 recent"), { mediaType: "application/pdf" })
  yield* runs.create("old", recordJson("old", { status: "succeeded", finishedAt: now - 8 * day, state: { report: old } }))
  yield* runs.create("recent", recordJson("recent", { status: "succeeded", finishedAt: now - day, state: { report: recent } }))
  const present = (ref: typeof old) => blobs.stat(ref).pipe(Effect.map(Option.isSome))
  return { prefix, runs, old, recent, present }
})

const nats = () => ["--nats", inject("natsUrl")]
const lines = (text: string) => text.trimEnd().split("\n")
const iso = "\\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\d\\.\\d{3}Z"

describe("switchyard runs gc", () => {
  it.live("prints what a dry run would delete, then deletes it and prints the report as JSON", () =>
    Effect.gen(function* () {
      const d = yield* seeded
      const env = { SWITCHYARD_PREFIX: d.prefix }

      const dry = yield* runCli({ label: "runs gc --dry-run", args: ["runs", "gc", ...nats(), "--grace", "0s", "--dry-run"], env })
      assert.strictEqual(dry.code, 0, dry.stderr)
      const printed = lines(dry.stdout)
      assert.lengthOf(printed, 5, dry.stdout)
      assert.strictEqual(printed[0], "dry run: nothing was deleted")
      assert.match(printed[1]!, new RegExp(`^runs: would delete 1 finished before ${iso}, would keep 1$`))
      assert.strictEqual(printed[2], "  old")
      assert.strictEqual(printed[3], "item results: would delete 0")
      assert.match(
        printed[4]!,
        new RegExp(`^blobs: would delete 1 \\(${d.old.size} B\\) named by nothing and stored before ${iso}, would keep 1$`)
      )
      assert.isTrue(Option.isSome(yield* d.runs.load("old")))
      assert.isTrue(yield* d.present(d.old))

      // Grace and retention from the environment this time.
      const wet = yield* runCli({
        label: "runs gc --json",
        args: ["runs", "gc", ...nats(), "--json"],
        env: { ...env, SWITCHYARD_BLOB_GRACE: "0 seconds", SWITCHYARD_RUN_RETENTION: "7d" }
      })
      assert.strictEqual(wet.code, 0, wet.stderr)
      const report = JSON.parse(wet.stdout) as GcReport
      assert.deepInclude(report, {
        dryRun: false,
        runsDeleted: ["old"],
        runsKept: 1,
        itemsDeleted: 0,
        blobsDeleted: 1,
        blobsKept: 1,
        bytesFreed: d.old.size,
        warnings: []
      })
      assert.isTrue(Option.isNone(yield* d.runs.load("old")))
      assert.isTrue(Option.isSome(yield* d.runs.load("recent")))
      assert.isFalse(yield* d.present(d.old))
      assert.isTrue(yield* d.present(d.recent))
    })
  )

  it.live("keeps finished runs inside a retention given on the command line", () =>
    Effect.gen(function* () {
      const d = yield* seeded
      const result = yield* runCli({
        label: "runs gc --retention 30d --json",
        args: ["runs", "gc", ...nats(), "--retention", "30d", "--json"],
        env: { SWITCHYARD_PREFIX: d.prefix, SWITCHYARD_RUN_RETENTION: "1 hour" }
      })
      assert.strictEqual(result.code, 0, result.stderr)
      assert.deepInclude(JSON.parse(result.stdout) as GcReport, { runsDeleted: [], runsKept: 2, blobsDeleted: 0 })
      assert.isTrue(yield* d.present(d.old))
    })
  )

  it.live("exits 2 naming the flag whose duration does not parse, before it connects", () =>
    Effect.gen(function* () {
      const result = yield* runCli({
        label: "runs gc --retention 7x",
        args: ["runs", "gc", "--nats", "nats://127.0.0.1:1", "--retention", "7x"]
      })
      assert.strictEqual(result.code, 2, result.stderr)
      assert.strictEqual(result.stderr, `--retention: expected a duration such as 7d, 12h, 30m or "7 days", found "7x"\n`)
      assert.strictEqual(result.stdout, "")
    })
  )

  it.live("exits 2 naming the variable whose duration does not parse", () =>
    Effect.gen(function* () {
      const result = yield* runCli({
        label: "runs gc with SWITCHYARD_BLOB_GRACE=soon",
        args: ["runs", "gc", "--nats", "nats://127.0.0.1:1"],
        env: { SWITCHYARD_BLOB_GRACE: "soon" }
      })
      assert.strictEqual(result.code, 2, result.stderr)
      assert.strictEqual(result.stderr, `SWITCHYARD_BLOB_GRACE: expected a duration such as 7d, 12h, 30m or "7 days", found "soon"\n`)
    })
  )
})
