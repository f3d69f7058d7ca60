/**
 * Three executor replicas of one pool started at the same moment, on a
 * deployment where the pool's durable consumer does not exist yet: each
 * creates or updates it as it starts, so the three race to create it. All
 * three must end up serving: 24 runs on replicas of two slots each spread
 * over all three, and every run succeeds with its result applied once.
 */
import { assert, describe, it } from "@effect/vitest"
import { connect as natsConnect } from "@nats-io/transport-node"
import { jetstreamManager } from "@nats-io/jetstream"
import { Effect } from "effect"
import { makeNames } from "../../schemas/Subjects.ts"
import { startStack } from "../e2e/support/Stack.ts"
import { ownNatsServer } from "../e2e/support/ownNatsServer.ts"
import { executionsLog, faultsClient, recordEnd, supervisedReplica, traceLog, workPipeline } from "./support/faults.ts"

const natsUrl = ownNatsServer()
const names = makeNames("")

describe("executors of one pool starting at once", () => {
  it.live(
    "all three serve and every run succeeds, applied once",
    () =>
      Effect.gen(function* () {
        const executions = executionsLog()
        const trace = traceLog()
        yield* startStack({ natsUrl: natsUrl(), replicas: [] })
        const nc = yield* Effect.promise(() => natsConnect({ servers: natsUrl() }))
        yield* Effect.addFinalizer(() => Effect.promise(() => nc.close()))
        const jsm = yield* Effect.promise(() => jetstreamManager(nc))
        const consumers = () =>
          Effect.promise(() => jsm.consumers.list(names.streams.tasks).next()).pipe(
            Effect.map((list) => list.map((info) => info.name)),
            Effect.orElseSucceed(() => [] as Array<string>)
          )
        assert.notInclude(yield* consumers(), names.consumers.pool("faults"), "no pool consumer before the replicas start")

        // Spawned together, not restarted: a replica that fails to start fails the test.
        const replicas = yield* Effect.forEach(
          ["a", "b", "c"],
          (label) =>
            supervisedReplica({ natsUrl: natsUrl(), label, executions: executions.path, trace: trace.path, slots: 2, restart: false }),
          { concurrency: "unbounded" }
        )
        yield* Effect.forEach(replicas, (replica) => replica.ready, { concurrency: "unbounded", discard: true })
        assert.include(yield* consumers(), names.consumers.pool("faults"))

        const client = yield* faultsClient(natsUrl())
        const labels = Array.from({ length: 24 }, (_, index) => `run-${index}`)
        const runIds = yield* Effect.forEach(
          labels,
          (label) =>
            client
              .submitRun({ pipeline: workPipeline(1_500), file: "faults.yaml", inputs: { label, crash: false } })
              .pipe(Effect.map((run) => run.runId)),
          { concurrency: "unbounded" }
        )
        const ends = yield* Effect.forEach(runIds, (runId) => recordEnd(client, runId, "120 seconds"), { concurrency: 8 })
        for (const [index, end] of ends.entries()) {
          assert.deepStrictEqual([end.status, ...end.errors], ["succeeded"], `${labels[index]} succeeds`)
          assert.deepStrictEqual(end.applied, [labels[index]], `${labels[index]} applied once`)
          assert.strictEqual(executions.counts().get(labels[index]!), 1, `${labels[index]} ran once`)
        }
        const servedBy = new Set(trace.lines().flatMap((line) => (line.kind === "start" ? [line.pid] : [])))
        for (const replica of replicas) {
          const cli = replica.current()
          assert.isTrue(cli.running(), `${cli.label} still runs`)
          assert.isTrue(servedBy.has(cli.pid), `${cli.label} ran tasks`)
          assert.notInclude(cli.stderr(), "consuming tasks failed", `${cli.label} consumed without a failure`)
        }
      }).pipe(Effect.scoped),
    300_000
  )
})
