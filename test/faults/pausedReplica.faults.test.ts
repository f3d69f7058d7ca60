/**
 * A replica paused past its lease: the replica running a 6 s task is
 * stopped with SIGSTOP (a stalled VM, a long GC pause) and cannot renew the
 * task's 3 s lease, so the task is delivered to the other replica, which
 * runs it and whose result completes the run. Then the paused replica is
 * resumed with SIGCONT: it finishes its own execution and publishes a
 * result for a task that was already applied. That stale result must be
 * ignored: the run's `work` slot holds the label once.
 */
import { assert, describe, it } from "@effect/vitest"
import { connect as natsConnect } from "@nats-io/transport-node"
import { jetstreamManager } from "@nats-io/jetstream"
import { Effect } from "effect"
import { makeNames } from "../../schemas/Subjects.ts"
import { startStack } from "../e2e/support/Stack.ts"
import { ownNatsServer } from "../e2e/support/ownNatsServer.ts"
import { eventually } from "../support/eventually.ts"
import { executionsLog, faultsClient, recordEnd, supervisedReplica, traceLog, workPipeline } from "./support/faults.ts"

const natsUrl = ownNatsServer()
const names = makeNames("")

describe("a replica paused past its lease", () => {
  it.live(
    "its task runs again on the other replica and is applied once; its own late result is ignored",
    () =>
      Effect.gen(function* () {
        const executions = executionsLog()
        const trace = traceLog()
        yield* startStack({ natsUrl: natsUrl(), replicas: [] })
        const replicas = yield* Effect.forEach(["a", "b"], (label) =>
          supervisedReplica({ natsUrl: natsUrl(), label, executions: executions.path, trace: trace.path, slots: 2 })
        )
        yield* Effect.forEach(replicas, (replica) => replica.ready, { concurrency: "unbounded", discard: true })
        const client = yield* faultsClient(natsUrl())

        // Every result published, as a core subscriber sees it (a duplicate the stream drops included).
        const nc = yield* Effect.promise(() => natsConnect({ servers: natsUrl() }))
        yield* Effect.addFinalizer(() => Effect.promise(() => nc.close()))
        const published: Array<{ readonly runId: string; readonly executorId: string }> = []
        nc.subscribe(names.taskResultAll, { callback: (_, msg) => void published.push(msg.json()) })
        yield* Effect.promise(() => nc.flush())

        const run = yield* client.submitRun({
          pipeline: workPipeline(6_000),
          file: "faults.yaml",
          inputs: { label: "paused", crash: false }
        })
        const first = yield* eventually(
          "the task started",
          () => trace.lines().find((line) => line.kind === "start" && line.label === "paused") ?? false,
          { timeout: "30 seconds", interval: "50 millis" }
        )
        const paused = replicas.find((replica) => replica.current().pid === first.pid)!.current()
        const other = replicas.find((replica) => replica.current().pid !== first.pid)!.current()
        process.kill(paused.pid, "SIGSTOP")
        // Resumed however the test ends, so its scope can stop it.
        yield* Effect.addFinalizer(() =>
          Effect.sync(() => {
            if (paused.running()) process.kill(paused.pid, "SIGCONT")
          })
        )

        const end = yield* recordEnd(client, run.runId, "60 seconds")
        assert.deepStrictEqual([end.status, ...end.errors], ["succeeded"])
        assert.deepStrictEqual(end.applied, ["paused"])
        const starts = trace.lines().filter((line) => line.kind === "start" && line.label === "paused")
        assert.deepStrictEqual(
          starts.map((line) => line.pid),
          [paused.pid, other.pid],
          "delivered again to the other replica while the first was paused"
        )

        process.kill(paused.pid, "SIGCONT")
        // The resumed replica finishes its execution and publishes its stale result...
        yield* eventually(
          "the resumed replica publishes its late result",
          () => published.some((result) => result.runId === run.runId && result.executorId.includes(`-${paused.pid}-`)),
          { timeout: "30 seconds", interval: "50 millis" }
        )
        assert.isTrue(
          trace.lines().some((line) => line.kind === "end" && line.label === "paused" && line.pid === paused.pid),
          "the paused execution ran to its end"
        )
        // ...which the scheduler has taken and settled (nothing pending in its results consumer), changing nothing.
        const jsm = yield* Effect.promise(() => jetstreamManager(nc))
        yield* eventually(
          "the scheduler has settled every result",
          Effect.promise(() => jsm.consumers.info(names.streams.results, names.consumers.scheduler)).pipe(
            Effect.map((info) => info.num_pending === 0 && info.num_ack_pending === 0)
          ),
          { timeout: "30 seconds", interval: "100 millis" }
        )
        const after = yield* recordEnd(client, run.runId)
        assert.deepStrictEqual([after.status, after.applied], ["succeeded", ["paused"]], "the late result changed nothing")
        assert.strictEqual(executions.counts().get("paused"), 2)
        assert.isTrue(paused.running(), "the paused replica lives on")
      }).pipe(Effect.scoped),
    300_000
  )
})
