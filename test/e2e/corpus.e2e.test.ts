/**
 * `auto.yaml` at corpus scale, as an operator runs it: a generated corpus of
 * 1,000 documents through registry, scheduler and two executor replicas as
 * separate processes on a nats-server of this file's own, and the same
 * corpus through the embedded deployment, each run with stores of its own.
 * The bus says which replica ran each task: a plain NATS connection reads
 * every result published on `task.result.>`.
 */
import { readFile } from "node:fs/promises"
import { join } from "node:path"
import { DatabaseSync } from "node:sqlite"
import { assert, describe, it } from "@effect/vitest"
import { connect as natsConnect } from "@nats-io/transport-node"
import { Effect, Exit, Schema } from "effect"
import { parse as parseYaml } from "yaml"
import { isBlobRef } from "../../schemas/Blob.ts"
import type { RunEvent } from "../../schemas/Run.ts"
import { makeNames } from "../../schemas/Subjects.ts"
import { TaskResult } from "../../schemas/Task.ts"
import { scopedCorpus } from "../support/corpus.ts"
import { isKind } from "../support/events.ts"
import { eventually } from "../support/eventually.ts"
import { scratchDir } from "../support/processes.ts"
import { repoRoot } from "./support/CliProcess.ts"
import { type RunOutcome, runPipeline, startStack } from "./support/Stack.ts"
import { ownNatsServer } from "./support/ownNatsServer.ts"

const auto = "examples/pipelines/auto.yaml"
const documents = 1_000

const natsUrl = ownNatsServer()

const decodeResult = Schema.decodeUnknownExit(Schema.fromJsonString(TaskResult))

/** The pipeline's `summary:` lines as label → the state key each one shows (`{{ state.KEY }}`). */
const summaryKeys = Effect.promise(() => readFile(`${repoRoot}/${auto}`, "utf8")).pipe(
  Effect.map((text) =>
    Object.entries((parseYaml(text) as { summary: Record<string, string> }).summary).map(([label, template]) => {
      const key = /^\{\{ state\.(\w+) \}\}$/.exec(template)?.[1]
      assert.isDefined(key, `${auto}: summary.${label}: expected {{ state.KEY }}, found ${template}`)
      return [label, key!] as const
    })
  )
)

/** How many items a state slot holds: a list's length, or the length a blob reference records for its list. */
const itemCount = (value: unknown): number => {
  if (Array.isArray(value)) return value.length
  if (isBlobRef(value) && value.length !== undefined) return value.length
  throw new Error(`expected a list or a blob reference with a length, found ${JSON.stringify(value)?.slice(0, 200)}`)
}

/** The summary's counts of a finished run, by label. */
const summaryCounts = (run: RunOutcome, keys: ReadonlyArray<readonly [label: string, key: string]>) =>
  Object.fromEntries(keys.map(([label, key]) => [label, itemCount(run.finished?.state[key])]))

/** A finished run's state without `graph_nodes` and `graph_edges`, whose order depends on which graph batch wrote first. */
const withoutGraphLists = (run: RunOutcome) =>
  Object.fromEntries(Object.entries(run.finished?.state ?? {}).filter(([key]) => key !== "graph_nodes" && key !== "graph_edges"))

/** Every row of the graph store in `dir`, sorted, read as an operator would with the sqlite3 shell. */
const graphRows = (dir: string) =>
  Effect.acquireUseRelease(
    Effect.sync(() => new DatabaseSync(join(dir, "graph.db"), { readOnly: true })),
    (db) =>
      Effect.sync(() => ({
        nodes: db.prepare("SELECT id, label, properties FROM nodes ORDER BY id").all(),
        edges: db.prepare("SELECT source, target, type, properties FROM edges ORDER BY source, target, type").all()
      })),
    (db) => Effect.sync(() => db.close())
  )

/** Stage name → output count, from a run's `stage.finished` events. */
const stageCounts = (events: ReadonlyArray<RunEvent>) =>
  Object.fromEntries(events.filter(isKind("stage.finished")).map((event) => [event.stage, event.count] as const))

describe("auto.yaml on a generated corpus", () => {
  it.live(
    "runs 1,000 documents across two replicas over NATS to the same summary counts as the embedded run",
    () =>
      Effect.gen(function* () {
        const corpus = yield* scopedCorpus({ documents })
        assert.strictEqual(corpus.documents, documents)
        const keys = yield* summaryKeys

        // Two slots per replica against 125 parse tasks (batches of 8): a replica holds at most two at a time, so both take a share.
        const stack = yield* startStack({ natsUrl: natsUrl(), replicas: ["a", "b"], slots: 2 })

        // Every result either replica publishes, read off the bus before the run starts.
        const results: Array<TaskResult> = []
        const undecoded: Array<string> = []
        const nc = yield* Effect.acquireRelease(
          Effect.promise(() => natsConnect({ servers: natsUrl(), name: "e2e-corpus-results" })),
          (connection) => Effect.promise(() => connection.close())
        )
        nc.subscribe(makeNames().taskResultAll, {
          callback: (_error, message) => {
            const decoded = decodeResult(message.string())
            if (Exit.isSuccess(decoded)) results.push(decoded.value)
            else undecoded.push(`${message.subject}: ${String(decoded.cause)}`)
          }
        })
        yield* Effect.promise(() => nc.flush())

        const distributedStores = yield* scratchDir("switchyard-stores-")
        const embeddedStores = yield* scratchDir("switchyard-stores-")
        const inputs = (stores: string) => ["--input", `corpus=${corpus.dir}`, "--input", `store_dir=${stores}`]
        const [distributed, embedded] = yield* Effect.all(
          [
            runPipeline(auto, ["--nats", natsUrl(), ...inputs(distributedStores)], {
              label: "auto distributed",
              timeout: "4 minutes"
            }),
            runPipeline(auto, inputs(embeddedStores), { label: "auto embedded", timeout: "4 minutes" })
          ],
          { concurrency: "unbounded" }
        )
        for (const run of [distributed, embedded]) {
          assert.strictEqual(run.code, 0, run.stderr)
          assert.strictEqual(run.finished?.status, "succeeded", JSON.stringify(run.finished?.error))
        }

        const counts = summaryCounts(distributed, keys)
        assert.deepStrictEqual(summaryCounts(embedded, keys), counts)
        assert.strictEqual(counts.documents, documents)
        assert.strictEqual(counts["vectors indexed"], counts.chunks)
        for (const [label] of keys) assert.isAbove(counts[label]!, 0, `${label} of the distributed run`)
        assert.deepStrictEqual(stageCounts(embedded.events), stageCounts(distributed.events))
        // Every slot is a content-addressed blob reference: equal states mean byte-identical lists, in item order. The
        // graph's batches write at once, and a node several batches touch is listed by whichever wrote it first: those
        // two lists hold the same ids in an order of their own, and the stores they were written to end the same.
        assert.deepStrictEqual(withoutGraphLists(distributed), withoutGraphLists(embedded))
        const graph = yield* graphRows(distributedStores)
        assert.deepStrictEqual([graph.nodes.length, graph.edges.length], [counts["graph nodes written"], counts["graph edges written"]])
        assert.deepStrictEqual(graph, yield* graphRows(embeddedStores))

        const runId = distributed.finished!.runId
        const parseTasks = Math.ceil(documents / 8)
        const parseResults = () =>
          results.filter((result) => result.runId === runId && result.stage === "parse" && result.status === "succeeded")
        // The bus delivers to this connection and to the scheduler independently: wait for the last results rather than assume them.
        const parsed = yield* eventually(
          `the results of all ${parseTasks} parse tasks (batches of 8) are seen on the bus`,
          () => {
            const seen = parseResults()
            return new Set(seen.map((result) => result.taskId)).size === parseTasks && seen
          },
          { timeout: "10 seconds" }
        )
        assert.deepStrictEqual(undecoded, [])
        const parseTakers = new Set(parsed.map((result) => result.executorId))
        assert.deepStrictEqual([...parseTakers].sort(), stack.replicas.map((replica) => replica.executorId).sort())
      }),
    300_000
  )
})
