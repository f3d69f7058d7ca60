/**
 * The registry lookup benchmark (`node bench/registryResolve.ts`): what one
 * `RegistryClient.resolve` costs, the call the scheduler makes on every run
 * submission. Against a nats-server it starts itself (and on the in-memory
 * bus, for comparison), it registers the ten `hello` stage types plus
 * `--extra` more, then times sequential resolves of one stage type (after a
 * warm-up) and resolves with `--in-flight` outstanding at once, and prints
 * one row per bus. It never fails on a time: it exits 0 whenever it ran.
 *
 * Options: `--samples <n>` sequential resolves (default 1000), `--in-flight <n>`
 * (default 64), `--extra <n>` additional registered stage types (default 0).
 */
import { randomUUID } from "node:crypto"
import { parseArgs } from "node:util"
import { Effect, Layer, References } from "effect"
import { StageRegistration } from "../schemas/Registry.ts"
import type { Bus } from "../services/bus/Bus.ts"
import * as MemoryBus from "../services/bus/MemoryBus.ts"
import * as NatsBus from "../services/bus/NatsBus.ts"
import { makeNames, Subjects } from "../schemas/Subjects.ts"
import { Registry, RegistryClient } from "../services/registry/index.ts"
import { startNatsServer } from "../test/support/NatsServer.ts"
import { type Row, scenarioTable } from "./internal/report.ts"
import { concurrentEffect, sequentialEffect } from "./internal/stats.ts"
import { benchStageMetadata } from "./internal/benchStage.ts"

const { values } = parseArgs({
  options: {
    samples: { type: "string", default: "1000" },
    "in-flight": { type: "string", default: "64" },
    extra: { type: "string", default: "0" }
  }
})
const samples = Math.max(1, Number(values.samples))
const inFlight = Math.max(1, Number(values["in-flight"]))
const extra = Math.max(0, Number(values.extra))

const helloTypes = ["greet", "shout", "reverse", "letters", "words", "summary", "noop", "fail", "flaky", "sleep"].map(
  (name) => `hello.${name}`
)
const types = [...helloTypes, ...Array.from({ length: extra }, (_, i) => `extra.stage${i}`)]

/** Registers the stage types, then times resolves of `hello.noop`. */
const measure = Effect.gen(function* () {
  const client = yield* RegistryClient
  const reply = yield* client.register(
    new StageRegistration({ version: 1, pool: "bench", executorId: "bench-1", runtime: "inline", stages: types.map(benchStageMetadata) })
  )
  const refused = reply.decisions.filter((decision) => !decision.accepted)
  if (refused.length > 0) return yield* Effect.fail(new Error(`registration refused: ${JSON.stringify(refused)}`))
  const once = client.resolve(["hello.noop"])
  const sequential = yield* sequentialEffect({ warmup: Math.min(200, samples), samples, budgetSeconds: 60 }, once)
  const concurrent = yield* concurrentEffect({ warmup: samples, total: samples * 10, inFlight, budgetSeconds: 30 }, once)
  return { sequential, concurrent }
})

const base = (prefix: string) =>
  Layer.succeed(Subjects, makeNames(prefix)).pipe(Layer.merge(Layer.succeed(References.MinimumLogLevel, "Warn")))

/** The registry and a client on NATS, each with its own connection as separate processes would have. */
const overNats = (prefix: string, url: string) => {
  const nats = (role: string): Layer.Layer<Bus, unknown> => NatsBus.layer({ url, name: `${prefix}-${role}` })
  return RegistryClient.layer.pipe(
    Layer.provideMerge(nats("client")),
    Layer.provideMerge(Registry.layer.pipe(Layer.provide(nats("registry")))),
    Layer.provideMerge(base(prefix))
  )
}

/** The registry and a client on one in-memory bus. */
const inMemory = (prefix: string) =>
  RegistryClient.layer.pipe(Layer.provideMerge(Registry.layer), Layer.provideMerge(MemoryBus.layer), Layer.provideMerge(base(prefix)))

const prefix = `rbench${randomUUID().replaceAll("-", "").slice(0, 8)}`
const server = await startNatsServer()
const rows: Array<Row> = []
try {
  process.stderr.write("measuring resolve over NATS ...\n")
  rows.push({
    name: "RegistryClient.resolve (NATS)",
    result: await Effect.runPromise(measure.pipe(Effect.provide(overNats(`${prefix}nats`, server.url))))
  })
  process.stderr.write("measuring resolve over the memory bus ...\n")
  rows.push({
    name: "RegistryClient.resolve (memory)",
    result: await Effect.runPromise(measure.pipe(Effect.provide(inMemory(`${prefix}mem`))))
  })
} finally {
  await server.dispose()
}

console.log(`
Registry lookup: RegistryClient.resolve(["hello.noop"]) with ${types.length} registered stage types;
seq = ${samples} one at a time after a warm-up; ops/s and @load = ${inFlight} in flight.
`)
console.log(scenarioTable(rows))
