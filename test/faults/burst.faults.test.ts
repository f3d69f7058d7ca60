/**
 * A burst of 3,000 tasks with far more sent at once than the pool has
 * slots: one `for_each` run over 3,000 items with `max_parallel: 1000` on
 * two replicas of four slots each. However many tasks wait in the stream,
 * no replica runs more than its slots at once, measured twice: by the stage
 * itself (how many tasks its process runs when one starts) and by every
 * heartbeat the replicas send (its `inFlight`). The run succeeds with each
 * item's output applied once, in item order.
 */
import { assert, describe, it } from "@effect/vitest"
import { connect as natsConnect } from "@nats-io/transport-node"
import { Effect } from "effect"
import { makeNames } from "../../schemas/Subjects.ts"
import { startStack } from "../e2e/support/Stack.ts"
import { ownNatsServer } from "../e2e/support/ownNatsServer.ts"
import { executionsLog, fanOutPipeline, faultsClient, recordEnd, supervisedReplica, traceLog } from "./support/faults.ts"

const natsUrl = ownNatsServer()
const names = makeNames("")

const itemCount = 3_000
const slots = 4

describe("a burst of thousands of tasks", () => {
  it.live(
    "3,000 tasks sent 1,000 at a time never run more than a replica's slots at once, each applied once",
    () =>
      Effect.gen(function* () {
        const executions = executionsLog()
        const trace = traceLog()
        yield* startStack({ natsUrl: natsUrl(), replicas: [] })

        const nc = yield* Effect.promise(() => natsConnect({ servers: natsUrl() }))
        yield* Effect.addFinalizer(() => Effect.promise(() => nc.close()))
        const heartbeats: Array<{ readonly pool: string; readonly executorId: string; readonly inFlight: number; readonly slots: number }> =
          []
        nc.subscribe(names.stageHeartbeat, { callback: (_, msg) => void heartbeats.push(msg.json()) })
        yield* Effect.promise(() => nc.flush())

        const replicas = yield* Effect.forEach(["a", "b"], (label) =>
          supervisedReplica({
            natsUrl: natsUrl(),
            label,
            executions: executions.path,
            trace: trace.path,
            slots,
            restart: false,
            env: { SWITCHYARD_HEARTBEAT_INTERVAL: "200 millis" }
          })
        )
        yield* Effect.forEach(replicas, (replica) => replica.ready, { concurrency: "unbounded", discard: true })

        const client = yield* faultsClient(natsUrl())
        const items = Array.from({ length: itemCount }, (_, index) => `item-${index}`)
        const run = yield* client.submitRun({
          pipeline: fanOutPipeline({ ms: 10, maxParallel: 1_000 }),
          file: "burst.yaml",
          inputs: { items }
        })
        const end = yield* recordEnd(client, run.runId, "180 seconds")
        assert.deepStrictEqual([end.status, ...end.errors], ["succeeded"])
        assert.deepStrictEqual(end.applied, items, "each item's output once, in item order")
        const counts = executions.counts()
        for (const item of items) assert.strictEqual(counts.get(item), 1, `${item} ran once`)

        // Measured by the stage: at most `slots` tasks of one process at once, and each replica was full.
        const pids = replicas.map((replica) => replica.current().pid)
        for (const pid of pids) {
          const running = trace.lines().flatMap((line) => (line.kind === "start" && line.pid === pid ? [line.running] : []))
          assert.isAbove(running.length, 0, `replica ${pid} ran tasks`)
          assert.strictEqual(Math.max(...running), slots, `replica ${pid} ran at most, and at some point exactly, ${slots} tasks at once`)
        }
        // Reported by the replicas: no heartbeat says more than its slots.
        const beats = heartbeats.filter((beat) => beat.pool === "faults")
        assert.isAbove(beats.filter((beat) => beat.inFlight > 0).length, 0, "heartbeats were sent while tasks ran")
        for (const beat of beats) assert.isAtMost(beat.inFlight, beat.slots, `${beat.executorId} within its ${beat.slots} slots`)
        assert.sameMembers([...new Set(beats.map((beat) => beat.slots))], [slots])
      }).pipe(Effect.scoped),
    300_000
  )
})
