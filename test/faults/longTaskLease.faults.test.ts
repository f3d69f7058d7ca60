/**
 * A task that runs longer than its lease: with `SWITCHYARD_ACK_WAIT` at 3 s
 * and the task 8 s long, the replica renews the lease while it lives, so
 * the task runs once. Then the same again with the replica killed (SIGKILL,
 * not restarted) mid-task, past its first ack wait: the lease runs out, the
 * task runs again on the other replica, and its result is applied once.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { startStack } from "../e2e/support/Stack.ts"
import { ownNatsServer } from "../e2e/support/ownNatsServer.ts"
import { eventually } from "../support/eventually.ts"
import { executionsLog, faultsClient, recordEnd, supervisedReplica, traceLog, workPipeline } from "./support/faults.ts"

const natsUrl = ownNatsServer()

describe("a task longer than its lease", () => {
  it.live(
    "runs once while its replica lives, and once more on the other replica after its replica is killed, applied once each time",
    () =>
      Effect.gen(function* () {
        const executions = executionsLog()
        const trace = traceLog()
        yield* startStack({ natsUrl: natsUrl(), replicas: [] })
        const replicas = yield* Effect.forEach(["a", "b"], (label) =>
          supervisedReplica({ natsUrl: natsUrl(), label, executions: executions.path, trace: trace.path, slots: 2, restart: false })
        )
        yield* Effect.forEach(replicas, (replica) => replica.ready, { concurrency: "unbounded", discard: true })
        const client = yield* faultsClient(natsUrl())
        const submit = (label: string) =>
          client
            .submitRun({ pipeline: workPipeline(8_000), file: "faults.yaml", inputs: { label, crash: false } })
            .pipe(Effect.map((run) => run.runId))

        // Eight seconds against a lease of three: renewed, never delivered again.
        const kept = yield* recordEnd(client, yield* submit("kept"), "60 seconds")
        assert.deepStrictEqual([kept.status, ...kept.errors], ["succeeded"])
        assert.deepStrictEqual(kept.applied, ["kept"])
        assert.strictEqual(executions.counts().get("kept"), 1, "the task kept its lease and ran once")

        const runId = yield* submit("killed")
        const first = yield* eventually(
          "the task started",
          () => trace.lines().find((line) => line.kind === "start" && line.label === "killed") ?? false,
          { timeout: "30 seconds", interval: "50 millis" }
        )
        // Four seconds in (the pace of the fault): past the first ack wait, still its only execution.
        yield* Effect.sleep("4 seconds")
        assert.strictEqual(executions.counts().get("killed"), 1, "not delivered again while its replica lives")
        const holder = replicas.find((replica) => replica.current().pid === first.pid)!
        const other = replicas.find((replica) => replica !== holder)!
        yield* holder.current().kill("SIGKILL")

        const end = yield* recordEnd(client, runId, "60 seconds")
        assert.deepStrictEqual([end.status, ...end.errors], ["succeeded"])
        assert.deepStrictEqual(end.applied, ["killed"], "applied once")
        const starts = trace.lines().filter((line) => line.kind === "start" && line.label === "killed")
        assert.deepStrictEqual(
          starts.map((line) => line.pid),
          [first.pid, other.current().pid],
          "ran again on the other replica"
        )
        assert.isTrue(
          trace.lines().some((line) => line.kind === "end" && line.label === "killed" && line.pid === other.current().pid),
          "finished there"
        )
      }).pipe(Effect.scoped),
    300_000
  )
})
