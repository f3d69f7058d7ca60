/**
 * `switchyard ledger` end to end: a run waits at a gate over a real
 * nats-server; `ledger show` prints its ledger and what the gate waits for,
 * `ledger set` (another process) opens the gate, and a later `ledger set` on
 * the finished run is refused with the run's status.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { eventually } from "../support/eventually.ts"
import { runCli, spawnCli } from "./support/CliProcess.ts"
import { runEvents, startStack } from "./support/Stack.ts"
import { ownNatsServer } from "./support/ownNatsServer.ts"

const natsUrl = ownNatsServer()

describe("switchyard ledger", () => {
  it.live(
    "shows what a gate waits for, opens it with ledger set, and refuses to change a finished run's ledger",
    () =>
      Effect.gen(function* () {
        yield* startStack({ natsUrl: natsUrl(), replicas: ["a"] })
        const nats = ["--nats", natsUrl()]
        const run = yield* spawnCli({ label: "run approval", args: ["run", "test/e2e/fixtures/approval.yaml", ...nats, "--json"] })
        const runId = yield* eventually("the gate to wait", () => {
          const events = runEvents(run.stdout())
          return events.some((event) => event.kind === "stage.waiting") && events[0]!.runId
        })

        const shown = yield* runCli({ label: "ledger show", args: ["ledger", "show", runId, ...nats] })
        assert.strictEqual(shown.code, 0, shown.stderr)
        assert.strictEqual(
          shown.stdout,
          [
            `run ${runId} running`,
            "ledger:",
            "  (empty)",
            `stage approval waiting: gate "approval" waits for 2 ledger conditions`,
            "  unmet: approved equals true (missing)",
            "  unmet: approver exists (missing)",
            ""
          ].join("\n")
        )

        const set = yield* runCli({ label: "ledger set", args: ["ledger", "set", runId, "approved=true", "approver=Lin", ...nats] })
        assert.strictEqual(set.code, 0, set.stderr)
        assert.strictEqual(set.stdout, `ledger of run ${runId}: set approved, approver\n`)
        const exited = yield* run.exited
        assert.strictEqual(exited.code, 0, run.stderr())
        const finished = runEvents(run.stdout()).find((event) => event.kind === "run.finished")
        assert.deepStrictEqual(finished?.state, { greeting: { greeting: "Hello, Lin!" } })

        const late = yield* runCli({ label: "ledger set late", args: ["ledger", "set", runId, "approved=false", ...nats] })
        assert.strictEqual(late.code, 0, late.stderr)
        assert.strictEqual(late.stdout, `ledger of run ${runId} unchanged: the run already succeeded\n`)

        const unknown = yield* runCli({ label: "ledger set unknown", args: ["ledger", "set", "no-such-run", "a=1", ...nats] })
        assert.notStrictEqual(unknown.code, 0)
        assert.include(unknown.stderr, "no run no-such-run in the run-state bucket")

        const malformed = yield* runCli({ label: "ledger set malformed", args: ["ledger", "set", runId, "approved", ...nats] })
        assert.notStrictEqual(malformed.code, 0)
        assert.include(malformed.stderr, `expected field=value, found "approved"`)
      }),
    90_000
  )
})
