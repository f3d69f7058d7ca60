/**
 * A gate through racing ledger updates and a scheduler crash: a run waits
 * at a gate that needs three ledger fields; two clients set two of them at
 * the same moment, the scheduler is killed (SIGKILL) right after both are
 * answered, while the gate runs again on them and still waits, and another
 * scheduler takes over; then the third field is set. The gate must open
 * exactly once, with the final ledger (both racing fields kept), and the
 * stage after it run and be applied once.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect, Fiber, Option, Stream } from "effect"
import type { RunEvent } from "../../schemas/Run.ts"
import { eventually } from "../support/eventually.ts"
import * as NatsServer from "../support/NatsServer.ts"
import { executionsLog, faultsClient, faultsStack } from "./support/faults.ts"

const pipeline = `
name: gated
stages:
  - name: approval
    type: gate
    inputs:
      timeout_ms: 120000
      conditions:
        - { field: a, exists: true }
        - { field: b, exists: true }
        - { field: go, equals: true }
  - name: work
    type: faults.work
    depends_on: [approval]
    inputs: { label: "{{ inputs.label }}:{{ ledger.a }}:{{ ledger.b }}:{{ ledger.go }}", crash: false, ms: 500 }
`

describe("a gate through racing ledger updates and a scheduler crash", () => {
  it.live(
    "opens exactly once with the final ledger, and the run succeeds applied once",
    () =>
      Effect.gen(function* () {
        const server = yield* NatsServer.scoped()
        const executions = executionsLog()
        const stack = yield* faultsStack(server.url, executions.path)
        const one = yield* faultsClient(server.url, "ledger-one")
        const two = yield* faultsClient(server.url, "ledger-two")

        const run = yield* one.submitRun({ pipeline, file: "gated.yaml", inputs: { label: "gated" } })
        const seen: Array<RunEvent> = []
        const watcher = yield* Effect.forkScoped(
          run.events.pipe(
            Stream.runForEach((event) => Effect.sync(() => void seen.push(event))),
            Effect.timeout("150 seconds")
          )
        )
        const stageStatus = (stage: string) =>
          one.getRun(run.runId).pipe(Effect.map((record) => (Option.isSome(record) ? record.value.stages[stage]?.status : undefined)))
        yield* eventually(
          "the gate waits",
          stageStatus("approval").pipe(Effect.map((status) => status === "waiting" || `approval ${status}`)),
          { timeout: "90 seconds", interval: "50 millis" }
        )

        // Two clients at the same moment, each setting its own field.
        const [fromOne, fromTwo] = yield* Effect.all(
          [one.updateLedger(run.runId, { a: "one" }, { source: "one" }), two.updateLedger(run.runId, { b: "two" }, { source: "two" })],
          { concurrency: "unbounded" }
        )
        assert.isTrue(fromOne.applied && fromTwo.applied, "both racing updates are applied")
        // The gate runs again on them (and still waits for `go`) while its scheduler dies.
        yield* stack.scheduler().kill("SIGKILL")
        yield* stack.replaceScheduler
        yield* stack.schedulerReady
        yield* eventually(
          "the gate waits again under the new scheduler",
          stageStatus("approval").pipe(Effect.map((status) => status === "waiting" || `approval ${status}`)),
          { timeout: "90 seconds", interval: "50 millis" }
        )

        const last = yield* two.updateLedger(run.runId, { go: true }, { source: "two" })
        assert.isTrue(last.applied, "the last update is applied")
        yield* Fiber.join(watcher)

        const record = Option.getOrUndefined(yield* one.getRun(run.runId))
        assert.strictEqual(record?.status, "succeeded")
        assert.deepStrictEqual(record?.ledger, { a: "one", b: "two", go: true }, "the final ledger keeps both racing fields")
        assert.deepStrictEqual(record?.state["work"], ["gated:one:two:true"], "the stage after the gate saw the final ledger, applied once")
        assert.strictEqual(executions.counts().get("gated:one:two:true"), 1, "the stage after the gate ran once")
        assert.strictEqual(executions.counts().size, 1, "nothing else ran")
        const gateEnds = seen.filter((event) => "stage" in event && event.stage === "approval" && event.kind !== "stage.waiting")
        assert.deepStrictEqual(
          gateEnds.filter((event) => event.kind !== "stage.started").map((event) => event.kind),
          ["stage.finished"],
          "the gate ended once, opening"
        )
        assert.strictEqual(seen.at(-1)?.kind, "run.finished")
      }).pipe(Effect.scoped),
    240_000
  )
})
