/**
 * Health and readiness as a probe sees them, on the services' HTTP ports:
 * `/readyz` answers 503 naming what is missing until the service is
 * connected, bound and (a replica) has its stage types announced, turns 503
 * again while NATS is gone and 200 once the service has put back what a
 * wiped server lost; `/healthz` answers 200 throughout.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { eventually } from "../support/eventually.ts"
import * as NatsServer from "../support/NatsServer.ts"
import { type CliProcess, spawnCli } from "./support/CliProcess.ts"
import { httpPortOf, serviceReady } from "./support/Stack.ts"

interface Probe {
  readonly status: number
  readonly body: { readonly ready?: boolean; readonly checks?: ReadonlyArray<{ readonly name: string; readonly ready: boolean }> }
}

const probe = (port: number, path: string) =>
  Effect.tryPromise(() =>
    fetch(`http://127.0.0.1:${port}${path}`).then(async (reply): Promise<Probe> => ({
      status: reply.status,
      body: (await reply.json()) as Probe["body"]
    }))
  )

/** Waits until `path` of `service` answers `status`; returns that answer. */
const answers = (service: CliProcess, port: number, path: string, status: number) =>
  eventually(
    `${service.label} answers ${status} on ${path}`,
    probe(port, path).pipe(
      Effect.filterOrFail(
        (reply) => reply.status === status,
        (reply) => JSON.stringify(reply)
      )
    ),
    { timeout: "60 seconds", interval: "100 millis" }
  )

const failing = (reply: Probe) => (reply.body.checks ?? []).filter((check) => !check.ready).map((check) => check.name)

describe("health and readiness endpoints", () => {
  it.live(
    "a replica is not ready until a registry accepted its stage types, and no service is ready while NATS is gone",
    () =>
      Effect.gen(function* () {
        const server = yield* NatsServer.scoped()
        const nats = ["--nats", server.url, "--http-port", "0"]
        const executor = yield* spawnCli({ label: "executor", args: ["executor", ...nats, "--pool", "hello"] })
        const executorPort = yield* httpPortOf(executor)
        // Starting, then connected and bound, but nothing has accepted its stage types yet: only that check fails.
        const early = yield* eventually(
          "the executor's /readyz fails on its stage types alone",
          probe(executorPort, "/readyz").pipe(
            Effect.filterOrFail(
              (reply) => reply.status === 503 && failing(reply).join() === "executor: stage types announced for pool hello",
              (reply) => JSON.stringify(reply)
            )
          ),
          { timeout: "60 seconds", interval: "100 millis" }
        )
        assert.deepStrictEqual(failing(early), ["executor: stage types announced for pool hello"])
        assert.strictEqual((yield* probe(executorPort, "/healthz")).status, 200)

        const registry = yield* spawnCli({ label: "registry", args: ["registry", ...nats] })
        const scheduler = yield* spawnCli({ label: "scheduler", args: ["scheduler", ...nats] })
        yield* Effect.forEach([registry, scheduler, executor], serviceReady, { discard: true })
        const ports = yield* Effect.forEach([registry, scheduler, executor], httpPortOf)

        // NATS gone: every service says it is not connected, and stays alive.
        yield* Effect.promise(() => server.stop())
        const services = [registry, scheduler, executor]
        for (const [index, service] of services.entries()) {
          const down = yield* answers(service, ports[index]!, "/readyz", 503)
          assert.isTrue(
            failing(down).some((name) => name.endsWith("connected to the server")),
            `${service.label}: ${failing(down).join(", ")}`
          )
          assert.strictEqual((yield* probe(ports[index]!, "/healthz")).status, 200)
        }

        // Back with an empty store: ready again once each put its streams, consumers and buckets back.
        yield* Effect.promise(() => server.restart({ wipe: true }))
        for (const [index, service] of services.entries()) yield* answers(service, ports[index]!, "/readyz", 200)
        assert.strictEqual((yield* probe(ports[0]!, "/nowhere")).status, 404)
      }).pipe(Effect.scoped),
    180_000
  )
})
