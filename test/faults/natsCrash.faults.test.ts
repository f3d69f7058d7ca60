/**
 * The NATS server crashes while runs are in flight: 30 runs of 1.5 s tasks
 * on two executor replicas, and the server killed (SIGKILL) and started
 * again on the same store three times, each time once more tasks have
 * started. No service is restarted: the registry, scheduler and replicas
 * reconnect by themselves. Every run must succeed with its result applied
 * exactly once.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect, Fiber } from "effect"
import { eventually } from "../support/eventually.ts"
import * as NatsServer from "../support/NatsServer.ts"
import { executionsLog, faultsClient, runToEnd, faultsStack } from "./support/faults.ts"

const runs = 30

describe("the NATS server crashes while runs are in flight", () => {
  it.live(
    "three kills and restarts on the same store: every run succeeds, applied once, and no service restarts",
    () =>
      Effect.gen(function* () {
        const server = yield* NatsServer.scoped()
        const executions = executionsLog()
        const stack = yield* faultsStack(server.url, executions.path)
        const client = yield* faultsClient(server.url)
        const started = Date.now()
        const all = yield* Effect.forkScoped(
          Effect.forEach(
            Array.from({ length: runs }, (_, index) => `run-${index}`),
            (label) => runToEnd(client, { label, ms: 1500, timeout: "150 seconds" }),
            { concurrency: "unbounded" }
          )
        )
        const startedTasks = () => [...executions.counts().values()].reduce((sum, count) => sum + count, 0)
        // Each crash comes once more tasks have started than before the last one: mid-run, every time.
        for (const threshold of [4, 12, 20]) {
          yield* eventually(`${threshold} tasks started`, () => startedTasks() >= threshold, {
            timeout: "90 seconds",
            interval: "50 millis"
          })
          yield* Effect.promise(() => server.kill())
          yield* Effect.promise(() => server.restart())
        }
        const ends = yield* Fiber.join(all)
        const elapsed = Date.now() - started

        const notSucceeded = ends.filter((end) => end.status !== "succeeded").map((end) => `${end.label}: ${end.status}`)
        assert.deepStrictEqual(notSucceeded, [], "every run succeeds")
        for (const end of ends) assert.deepStrictEqual(end.applied, [end.label], `${end.label} applied exactly once`)
        const stopped = stack.processes().filter((cli) => !cli.running())
        assert.deepStrictEqual(
          stopped.map((cli) => cli.label),
          [],
          "no service process exited"
        )
        yield* Effect.logInfo(`${runs} runs through three NATS crashes in ${elapsed} ms; executions ${startedTasks()}`)
      }).pipe(Effect.scoped),
    240_000
  )
})
