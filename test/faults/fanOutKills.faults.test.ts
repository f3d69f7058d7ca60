/**
 * Executors killed again and again during a fan-out: one `for_each` run
 * over 200 items (16 tasks out at once) on two replicas, each restarted
 * whenever it exits (as a supervisor would), with a replica killed with
 * SIGKILL every two seconds, six times, while the run goes on. The tasks a
 * killed replica held come back when their leases run out and run again;
 * the run must succeed with every item's output in the combined list once,
 * in item order.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { startStack } from "../e2e/support/Stack.ts"
import { ownNatsServer } from "../e2e/support/ownNatsServer.ts"
import { executionsLog, fanOutPipeline, faultsClient, recordEnd, supervisedReplica, traceLog } from "./support/faults.ts"

const natsUrl = ownNatsServer()

const itemCount = 200
const kills = 6

describe("executors killed during a fan-out", () => {
  it.live(
    "a for_each run over 200 items succeeds with each item's output applied once, in order, through six SIGKILLs",
    () =>
      Effect.gen(function* () {
        const executions = executionsLog()
        const trace = traceLog()
        yield* startStack({ natsUrl: natsUrl(), replicas: [] })
        // A kill of a replica running a redelivered task alone counts as a crash of that task; the
        // limit is past the number of kills so that none of these tasks is taken for poison.
        const env = { SWITCHYARD_CRASH_LIMIT: String(kills + 2) }
        const replicas = yield* Effect.forEach(["a", "b"], (label) =>
          supervisedReplica({ natsUrl: natsUrl(), label, executions: executions.path, trace: trace.path, slots: 8, env })
        )
        yield* Effect.forEach(replicas, (replica) => replica.ready, { concurrency: "unbounded", discard: true })

        const client = yield* faultsClient(natsUrl())
        const items = Array.from({ length: itemCount }, (_, index) => `item-${index}`)
        const run = yield* client.submitRun({
          pipeline: fanOutPipeline({ ms: 800, maxParallel: 16 }),
          file: "fan-out.yaml",
          inputs: { items }
        })

        // Every two seconds (the pace of the fault, not a wait for anything) the next replica is
        // killed, once its last restart serves again.
        const killed: Array<number> = []
        for (let kill = 0; kill < kills; kill++) {
          yield* Effect.sleep("2 seconds")
          const replica = replicas[kill % replicas.length]!
          yield* replica.ready
          const victim = replica.current()
          yield* victim.kill("SIGKILL")
          killed.push(victim.pid)
        }

        const end = yield* recordEnd(client, run.runId, "240 seconds")
        assert.deepStrictEqual([end.status, ...end.errors], ["succeeded"])
        assert.deepStrictEqual(end.applied, items, "each item's output once, in item order")

        // The kills hit running tasks: some were started by a killed process and never ended there,
        // and those ran again elsewhere.
        const lines = trace.lines()
        const cut = lines.filter(
          (line) =>
            line.kind === "start" &&
            killed.includes(line.pid) &&
            !lines.some((other) => other.kind === "end" && other.pid === line.pid && other.label === line.label)
        )
        assert.isAbove(cut.length, 0, "some task was running in a killed replica")
        const counts = executions.counts()
        for (const item of items) assert.isAtLeast(counts.get(item) ?? 0, 1, `${item} ran`)
        for (const line of cut) assert.isAtLeast(counts.get(line.label) ?? 0, 2, `${line.label}, cut short by a kill, ran again`)
      }).pipe(Effect.scoped),
    300_000
  )
})
