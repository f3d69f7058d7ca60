/**
 * A nats-server that comes back with an empty JetStream store (a lost disk,
 * an operator's reset) under a running deployment: the registry, a scheduler
 * and two executor replicas as separate processes. No service is restarted.
 * Each must put back the streams, consumers and buckets it owns and say
 * once what was gone (a replica whose peer already put back what they share
 * finds it in place and says nothing), the replicas must register their
 * stage types again with the emptied registry, and a run submitted
 * afterwards must succeed.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { eventually } from "../support/eventually.ts"
import * as NatsServer from "../support/NatsServer.ts"
import { readyTimeout } from "../e2e/support/CliProcess.ts"
import { runPipeline, startStack } from "../e2e/support/Stack.ts"

const hello = "examples/pipelines/hello.yaml"

/** The line a service logs when it put back what was gone. */
const recreated = /\); recreated/

const count = (text: string, pattern: RegExp) => text.split("\n").filter((line) => pattern.test(line)).length

describe("a nats-server that comes back with an empty store", () => {
  it.live(
    "every service puts back what it owns, says so once, and a run submitted afterwards succeeds without a restart",
    () =>
      Effect.gen(function* () {
        const server = yield* NatsServer.scoped()
        const nats = ["--nats", server.url]
        const stack = yield* startStack({ natsUrl: server.url })
        const before = yield* runPipeline(hello, nats, { label: "run before the wipe" })
        assert.strictEqual(before.code, 0, before.stderr)
        assert.strictEqual(before.finished?.status, "succeeded")
        const pids = stack.processes().map((service) => service.pid)

        yield* Effect.promise(() => server.restart({ wipe: true }))

        // The registry and the scheduler each notice on their own and put back what only they own; the replicas
        // share their pool's consumer and buckets, so the first to notice puts those back and the other finds them.
        yield* stack.registry.logged(recreated, readyTimeout)
        yield* stack.scheduler().logged(recreated, readyTimeout)
        yield* eventually(
          "a replica put the pool's consumer back",
          () => stack.replicas.some((replica) => /consumer pool-hello .*\); recreated/.test(replica.stderr())),
          readyTimeout
        )
        yield* eventually(
          "a replica registered its stage types again",
          () => stack.replicas.some((replica) => replica.stderr().includes("registering the catalog again")),
          readyTimeout
        )

        // Until the replicas registered again the pipeline may be refused; it is then submitted again.
        const after = yield* eventually(
          "a run submitted after the wipe succeeds",
          runPipeline(hello, nats, { label: "run after the wipe" }).pipe(
            Effect.scoped,
            Effect.flatMap((outcome) =>
              outcome.code === 0 && outcome.finished?.status === "succeeded"
                ? Effect.succeed(outcome)
                : Effect.fail(`exit ${outcome.code}: ${outcome.stderr.slice(-400)}`)
            )
          ),
          { timeout: "150 seconds", interval: "1 second" }
        )
        assert.deepStrictEqual(after.finished?.state, before.finished?.state)

        for (const service of stack.processes()) {
          assert.isTrue(service.running(), `${service.label} is still running`)
          const said = count(service.stderr(), recreated)
          const expected = service === stack.registry || service === stack.scheduler() ? 1 : said
          assert.strictEqual(said, expected, `${service.label} says once what was gone:\n${service.stderr().slice(-2000)}`)
          assert.isAtMost(said, 1, `${service.label} says at most once what was gone:\n${service.stderr().slice(-2000)}`)
        }
        assert.deepStrictEqual(
          stack.processes().map((service) => service.pid),
          pids,
          "no service was restarted"
        )
        // An outage is one warning per service, not an error per heartbeat or fetch.
        assert.isAtMost(count(stack.registry.stderr(), /could not serve a request/), 2, stack.registry.stderr().slice(-2000))
        for (const replica of stack.replicas) {
          assert.isAtMost(count(replica.stderr(), /the registry did not record a heartbeat/), 1, replica.stderr().slice(-2000))
          assert.isAtMost(count(replica.stderr(), /is gone; fetching again/), 1, replica.stderr().slice(-2000))
        }
      }).pipe(Effect.scoped),
    300_000
  )
})
