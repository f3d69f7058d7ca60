/**
 * Memory held by the scheduler across bursts on the same processes: fan-out
 * runs that succeed and fan-out runs that fail part way (their first failed
 * item ends the run while other items are still owed), three bursts in a
 * row. After each burst, once every run ended, the scheduler holds no run
 * and no item list (its `switchyard_scheduler_runs_live` and
 * `switchyard_scheduler_item_lists_held` gauges on `/metrics` are back to
 * 0): what grows per run is let go, however the run ended. Before the fix,
 * the item lists of runs that failed part way stayed loaded for good.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect, Stream } from "effect"
import type { RunEvent } from "../../schemas/Run.ts"
import { eventually } from "../support/eventually.ts"
import { httpPortOf, startStack } from "../e2e/support/Stack.ts"
import { ownNatsServer } from "../e2e/support/ownNatsServer.ts"
import { faultsClient } from "./support/faults.ts"

const natsUrl = ownNatsServer()

const succeeding = `
name: memory-fan-out
stages:
  - name: greet
    type: hello.greet
    for_each: "{{ inputs.names }}"
    max_parallel: 8
    inputs: { name: "{{ item }}" }
  - name: done
    type: hello.noop
    depends_on: [greet]
    inputs: {}
`

const failing = `
name: memory-failing-fan-out
stages:
  - name: greet
    type: hello.fail
    for_each: "{{ inputs.names }}"
    max_parallel: 4
    inputs: { message: "{{ item }} fails for good", retryable: false }
`

const names = Array.from({ length: 40 }, (_, index) => `item-${index}`)

/** A gauge's value in a Prometheus text page. */
const gauge = (page: string, name: string): number | undefined => {
  const line = page.split("\n").find((candidate) => candidate.startsWith(`${name}{`) || candidate.startsWith(`${name} `))
  return line === undefined ? undefined : Number(line.slice(line.lastIndexOf(" ") + 1))
}

describe("the scheduler's memory across bursts", () => {
  it.live(
    "holds no run and no item list once each burst's runs ended, the ones that failed part way included",
    () =>
      Effect.gen(function* () {
        const stack = yield* startStack({ natsUrl: natsUrl(), replicas: ["a"] })
        const port = yield* httpPortOf(stack.scheduler())
        const client = yield* faultsClient(natsUrl())
        const runToEnd = (pipeline: string) =>
          client.submitRun({ pipeline, file: "memory.yaml", inputs: { names } }).pipe(
            Effect.flatMap((run) =>
              Stream.runLast(run.events.pipe(Stream.filter((event: RunEvent) => event.kind === "run.finished"))).pipe(
                Effect.timeout("120 seconds")
              )
            ),
            Effect.map((last) => (last._tag === "Some" && last.value.kind === "run.finished" ? last.value.status : "unseen"))
          )
        for (const burst of [1, 2, 3]) {
          const statuses = yield* Effect.forEach([succeeding, succeeding, succeeding, failing, failing, failing], runToEnd, {
            concurrency: "unbounded"
          })
          assert.deepStrictEqual(statuses, ["succeeded", "succeeded", "succeeded", "failed", "failed", "failed"], `burst ${burst}`)
          const held = yield* eventually(
            `after burst ${burst}, the scheduler holds no run and no item list`,
            Effect.tryPromise(() => fetch(`http://127.0.0.1:${port}/metrics`).then((reply) => reply.text())).pipe(
              Effect.map((page) => ({
                runs: gauge(page, "switchyard_scheduler_runs_live"),
                itemLists: gauge(page, "switchyard_scheduler_item_lists_held")
              })),
              Effect.filterOrFail(
                (held) => held.runs === 0 && held.itemLists === 0,
                (held) => JSON.stringify(held)
              )
            ),
            { timeout: "30 seconds", interval: "250 millis" }
          )
          assert.deepStrictEqual([held.runs, held.itemLists], [0, 0])
        }
      }).pipe(Effect.scoped),
    300_000
  )
})
