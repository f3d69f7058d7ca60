/**
 * The document pipelines end to end, as an operator runs them: `auto.yaml`
 * on the sample corpus over a real nats-server (registry, scheduler and an
 * executor as separate processes) and embedded, with the same counts; and
 * `pdf-two-phase.yaml` over NATS, with the PDF served by a local HTTP server
 * and the gate opened by the example PDF processor running as its own
 * process, a separate client on the bus.
 */
import { mkdtemp, readFile, rm } from "node:fs/promises"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import type { RunEvent } from "../../schemas/Run.ts"
import { httpServer } from "../support/httpServer.ts"
import { readyTimeout, repoRoot, spawnCli } from "./support/CliProcess.ts"
import { runPipeline, startStack } from "./support/Stack.ts"
import { ownNatsServer } from "./support/ownNatsServer.ts"
import { stageOf } from "../support/events.ts"

const auto = "examples/pipelines/auto.yaml"
const twoPhase = "examples/pipelines/pdf-two-phase.yaml"
const processor = join(repoRoot, "examples", "services", "pdf-processor", "index.ts")

const natsUrl = ownNatsServer()

/** A temporary folder for a run's vector and graph stores, removed with the scope. */
const storeDir = Effect.acquireRelease(
  Effect.promise(() => mkdtemp(join(tmpdir(), "switchyard-stores-"))),
  (dir) => Effect.promise(() => rm(dir, { recursive: true, force: true }))
)

/** A local HTTP server handing out the sample corpus' files. */
const corpusServer = httpServer((request, response) => {
  readFile(join(repoRoot, "examples", "data", (request.url ?? "/").slice(1))).then(
    (bytes) => response.writeHead(200, { "content-type": "application/pdf", "content-length": bytes.length }).end(bytes),
    () => response.writeHead(404).end()
  )
})

/** Stage name → output count, from a run's `stage.finished` events. */
const countsOf = (events: ReadonlyArray<RunEvent>) =>
  Object.fromEntries(events.filter((event) => event.kind === "stage.finished").map((event) => [stageOf(event)!, event.count!] as const))

const lengthOf = (state: Readonly<Record<string, unknown>> | undefined, key: string) => (state?.[key] as ReadonlyArray<unknown>).length

describe("document pipelines as separate processes", () => {
  it.live(
    "auto.yaml runs over NATS and embedded on the sample corpus with the same counts",
    () =>
      Effect.gen(function* () {
        yield* startStack({ natsUrl: natsUrl(), replicas: ["a"] })
        const distributedStores = yield* storeDir
        const embeddedStores = yield* storeDir
        const [distributed, embedded] = yield* Effect.all(
          [
            runPipeline(auto, ["--nats", natsUrl(), "--input", `store_dir=${distributedStores}`], { label: "auto distributed" }),
            runPipeline(auto, ["--input", `store_dir=${embeddedStores}`], { label: "auto embedded" })
          ],
          { concurrency: "unbounded" }
        )
        for (const run of [distributed, embedded]) {
          assert.strictEqual(run.code, 0, run.stderr)
          assert.strictEqual(run.finished?.status, "succeeded")
        }
        const counts = countsOf(distributed.events)
        assert.deepStrictEqual(countsOf(embedded.events), counts)
        const state = distributed.finished!.state
        const chunks = lengthOf(state, "chunks")
        const entities = lengthOf(state, "entities")
        const claims = lengthOf(state, "claims")
        assert.deepStrictEqual(counts, {
          ingest: 4,
          parse: 4,
          validate: 4,
          chunk: chunks,
          embed: chunks,
          index: chunks,
          extract: entities + claims,
          graph: counts.graph!
        })
        assert.isAbove(chunks, 4)
        assert.isAbove(entities, 0)
        assert.isAbove(claims, 0)
        assert.isAbove(counts.graph!, chunks)
        assert.deepStrictEqual(
          [lengthOf(embedded.finished!.state, "entities"), lengthOf(embedded.finished!.state, "claims")],
          [entities, claims]
        )
      }),
    120_000
  )

  it.live(
    "pdf-two-phase.yaml waits at its gate until the external PDF processor sets pdf_ir_ready, then finishes",
    () =>
      Effect.gen(function* () {
        const served = yield* corpusServer
        yield* startStack({ natsUrl: natsUrl(), replicas: ["a"] })
        const pdfProcessor = yield* spawnCli({ label: "pdf-processor", script: processor, args: ["--nats", natsUrl()] })
        yield* pdfProcessor.logged("watching runs", readyTimeout)
        const stores = yield* storeDir
        const run = yield* runPipeline(
          twoPhase,
          ["--nats", natsUrl(), "--input", `url=${served}/pneumonia.pdf`, "--input", `store_dir=${stores}`],
          { label: "pdf-two-phase", timeout: "90 seconds" }
        )
        assert.strictEqual(run.code, 0, `${run.stderr}\n${pdfProcessor.stderr()}\n${pdfProcessor.stdout()}`)
        const kinds = run.events.filter((event) => stageOf(event) === "wait-for-pdf-ir").map((event) => event.kind)
        assert.deepStrictEqual([kinds[0], kinds[1], kinds.at(-1)], ["stage.started", "stage.waiting", "stage.finished"])
        const waiting = run.events.find((event) => event.kind === "stage.waiting")
        assert.deepStrictEqual(waiting?.waiting?.unmet, ["pdf_ir_ready equals true (missing)"])
        assert.match(pdfProcessor.stderr(), /1 PDF\(s\), 2 page\(s\); set pdf_ir_ready/)
        const counts = countsOf(run.events)
        assert.strictEqual(counts.download, 1)
        assert.strictEqual(counts.ingest, 1)
        assert.strictEqual(counts.parse, 1)
        assert.isAbove(counts.chunk!, 1)
        assert.strictEqual(counts.index, counts.chunk)
        assert.isAbove(counts.graph!, 0)
        const { documents } = run.finished!.state as { documents: ReadonlyArray<{ metadata: { pageCount: number } }> }
        assert.strictEqual(documents[0]!.metadata.pageCount, 2)
      }),
    120_000
  )
})
