/**
 * A 10-second NATS outage in the middle of runs: the server is stopped while
 * the first stage of each run is running, kept down for 10 seconds (longer
 * than the tasks' leases and than the tasks themselves, so results, events
 * and the next stage's dispatch all fall in the outage), then started again
 * on the same store. Every run must finish with its result applied once,
 * and whoever watches a run must see each stage's end: the SDK client's
 * events of each run, and `switchyard run --nats --json` processes, whose
 * last event of every stage is `stage.finished`. No stage may be left
 * `pending` or `dispatched` in a run's record.
 */
import { mkdtempSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Fiber, Option, Stream } from "effect"
import type { RunEvent } from "../../schemas/Run.ts"
import { eventually } from "../support/eventually.ts"
import * as NatsServer from "../support/NatsServer.ts"
import { runEvents } from "../e2e/support/Stack.ts"
import { spawnCli } from "../e2e/support/CliProcess.ts"
import { executionsLog, faultsClient, faultsStack } from "./support/faults.ts"

// Two stages, so the outage falls between a stage's end and the next one's start.
const pipeline = `
name: outage
stages:
  - name: work
    type: faults.work
    inputs: { label: "{{ inputs.label }}", crash: false, ms: 2000 }
  - name: greet
    type: hello.greet
    depends_on: [work]
    inputs: { name: "{{ inputs.label }}" }
`

const sdkRuns = 12
const cliRuns = 2

/** What a watcher last saw of each stage, by stage name. */
const lastOfEachStage = (events: ReadonlyArray<RunEvent>): Record<string, string> => {
  const last: Record<string, string> = {}
  for (const event of events) if ("stage" in event) last[event.stage] = event.kind
  return last
}

describe("a 10-second NATS outage during a transition", () => {
  it.live(
    "every run finishes applied once, and every watcher sees each stage finish",
    () =>
      Effect.gen(function* () {
        const server = yield* NatsServer.scoped()
        const executions = executionsLog()
        const stack = yield* faultsStack(server.url, executions.path)
        const client = yield* faultsClient(server.url)
        const file = join(mkdtempSync(join(tmpdir(), "switchyard-outage-")), "outage.yaml")
        writeFileSync(file, pipeline)

        const sdk = yield* Effect.forkScoped(
          Effect.forEach(
            Array.from({ length: sdkRuns }, (_, index) => `sdk-${index}`),
            (label) =>
              Effect.gen(function* () {
                const run = yield* client.submitRun({ pipeline, file: "outage.yaml", inputs: { label } })
                const events = yield* Stream.runCollect(run.events).pipe(Effect.timeout("150 seconds"))
                return { label, runId: run.runId, events: [...events] }
              }),
            { concurrency: "unbounded" }
          )
        )
        const cli = yield* Effect.forEach(
          Array.from({ length: cliRuns }, (_, index) => `cli-${index}`),
          (label) =>
            spawnCli({
              label: `run ${label}`,
              args: ["run", file, "--nats", server.url, "--json", "--input", `label=${label}`]
            }).pipe(Effect.map((process) => ({ label, process })))
        )
        // The watchers are connected and following their runs before the outage.
        yield* Effect.forEach(cli, ({ label, process }) =>
          eventually(`run ${label} prints its first stage.started`, () => process.stdout().includes('"stage.started"'), {
            timeout: "90 seconds",
            interval: "50 millis"
          })
        )

        // Down while the first stage of most runs is running: its results, its runs' events and
        // the dispatch of their next stage all fall in the outage.
        const startedTasks = () => [...executions.counts().values()].reduce((sum, count) => sum + count, 0)
        yield* eventually("6 tasks started", () => startedTasks() >= 6, { timeout: "90 seconds", interval: "50 millis" })
        yield* Effect.promise(() => server.stop())
        const down = Date.now()
        // The outage itself is the fault: its length is what the scenario is about, not a wait for an event.
        yield* Effect.sleep("10 seconds")
        yield* Effect.promise(() => server.restart())
        const outageMs = Date.now() - down

        const sdkEnds = yield* Fiber.join(sdk)
        const cliEnds = yield* Effect.forEach(cli, ({ label, process }) =>
          process.exited.pipe(
            Effect.timeout("150 seconds"),
            Effect.map((exited) => {
              const events = runEvents(process.stdout())
              return {
                label,
                outcome: { ...exited, stderr: process.stderr(), events, finished: events.find((event) => event.kind === "run.finished") }
              }
            })
          )
        )

        for (const { label, outcome } of cliEnds) {
          assert.strictEqual(outcome.code, 0, `run ${label} exits 0; stderr:\n${outcome.stderr}`)
          assert.strictEqual(
            outcome.finished?.kind === "run.finished" ? outcome.finished.status : undefined,
            "succeeded",
            `run ${label} succeeds`
          )
          assert.deepStrictEqual(lastOfEachStage(outcome.events), { work: "stage.finished", greet: "stage.finished" }, `run ${label}`)
        }
        for (const { label, events } of sdkEnds) {
          const finished = events.at(-1)
          assert.strictEqual(finished?.kind === "run.finished" ? finished.status : undefined, "succeeded", `${label} succeeds`)
          assert.deepStrictEqual(lastOfEachStage(events), { work: "stage.finished", greet: "stage.finished" }, `${label}`)
        }
        const runIds = [
          ...sdkEnds.map(({ label, runId }) => ({ label, runId })),
          ...cliEnds.map(({ label, outcome }) => ({ label, runId: outcome.events[0]!.runId }))
        ]
        for (const { label, runId } of runIds) {
          const record = Option.getOrUndefined(yield* client.getRun(runId))
          assert.strictEqual(record?.status, "succeeded", `${label} record`)
          assert.deepStrictEqual(record?.state["work"], [label], `${label} applied exactly once`)
          assert.deepStrictEqual(record?.state["greeting"], { greeting: `Hello, ${label}!` }, `${label} greeted`)
          const unfinished = Object.entries(record?.stages ?? {}).filter(([, stage]) => stage.status !== "succeeded")
          assert.deepStrictEqual(unfinished, [], `${label}: every stage succeeded in the record`)
        }
        assert.deepStrictEqual(
          stack
            .processes()
            .filter((process) => !process.running())
            .map((process) => process.label),
          [],
          "no service process exited"
        )
        yield* Effect.logInfo(`outage of ${outageMs} ms; ${sdkRuns + cliRuns} runs finished`)
      }).pipe(Effect.scoped),
    240_000
  )
})
