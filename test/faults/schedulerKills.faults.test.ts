/**
 * The scheduler killed twice with SIGKILL while 30 runs are in flight: a
 * replacement is started after each kill (as a supervisor would) and
 * resumes every run from its saved record. Every run must succeed with its
 * result applied once, whatever became of the results the killed
 * schedulers had leased and not yet acked.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect, Option } from "effect"
import { startStack } from "../e2e/support/Stack.ts"
import { ownNatsServer } from "../e2e/support/ownNatsServer.ts"
import { eventually } from "../support/eventually.ts"
import { executionsLog, faultsClient, recordEnd, supervisedReplica, workPipeline } from "./support/faults.ts"

const natsUrl = ownNatsServer()

const runCount = 30

describe("the scheduler killed mid-run", () => {
  it.live(
    "30 runs in flight through two SIGKILLs of the scheduler all succeed, each applied once",
    () =>
      Effect.gen(function* () {
        const executions = executionsLog()
        const stack = yield* startStack({ natsUrl: natsUrl(), replicas: [] })
        const replicas = yield* Effect.forEach(["a", "b"], (label) =>
          supervisedReplica({ natsUrl: natsUrl(), label, executions: executions.path, slots: 8 })
        )
        yield* Effect.forEach(replicas, (replica) => replica.ready, { concurrency: "unbounded", discard: true })

        const client = yield* faultsClient(natsUrl())
        const labels = Array.from({ length: runCount }, (_, index) => `run-${index}`)
        const runs = yield* Effect.forEach(
          labels,
          (label) =>
            client
              .submitRun({ pipeline: workPipeline(2_500), file: "faults.yaml", inputs: { label, crash: false } })
              .pipe(Effect.map((run) => ({ label, runId: run.runId }))),
          { concurrency: "unbounded" }
        )
        const running = Effect.map(
          Effect.forEach(runs, (run) => client.getRun(run.runId), { concurrency: 8 }),
          (records) => records.filter((record) => Option.isSome(record) && record.value.status === "running").length
        )

        // Killed once tasks are running, then again once the replacement has taken more results.
        for (const waitFor of [1, 20]) {
          yield* eventually(`${waitFor} task(s) started`, () => [...executions.counts().values()].reduce((a, b) => a + b, 0) >= waitFor, {
            timeout: "120 seconds",
            interval: "100 millis"
          })
          const inFlight = yield* running
          yield* stack.scheduler().kill("SIGKILL")
          assert.isAbove(inFlight, 0, "runs were in flight when the scheduler was killed")
          yield* stack.replaceScheduler
          yield* stack.schedulerReady
        }

        const ends = yield* Effect.forEach(runs, (run) => recordEnd(client, run.runId, "180 seconds"), { concurrency: 8 })
        for (const [index, end] of ends.entries()) {
          const label = runs[index]!.label
          assert.deepStrictEqual([end.status, ...end.errors], ["succeeded"], `${label} succeeds`)
          assert.deepStrictEqual(end.applied, [label], `${label} applied once`)
        }
        assert.strictEqual(stack.processes().filter((cli) => cli.label.startsWith("scheduler-")).length, 3)
        for (const label of labels) assert.isAtLeast(executions.counts().get(label) ?? 0, 1, `${label} ran`)
      }).pipe(Effect.scoped),
    300_000
  )
})
