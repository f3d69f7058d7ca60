/**
 * Pool liveness to the millisecond, on the memory bus under a `TestClock`:
 * the registry's own methods are called in-process and the sweep is run by
 * hand, so each test says exactly when a pool goes offline.
 */
import { assert, describe, it } from "@effect/vitest"
import { Context, Effect, Exit, Layer, Scope } from "effect"
import { TestClock } from "effect/testing"
import { Heartbeat } from "../../../schemas/Registry.ts"
import { Bus } from "../../../services/bus/Bus.ts"
import { MemoryBus } from "../../../services/bus/index.ts"
import { makeNames, Subjects } from "../../../schemas/Subjects.ts"
import { Registry, RegistryConfig } from "../../../services/registry/index.ts"
import { uniquePrefix } from "../../support/unique.ts"
import { registration, stage } from "./RegistrySuite.ts"

// The periodic sweep is pushed far away so that only explicit sweeps count.
const config = { offlineAfter: "15 seconds", sweepInterval: "1 day", forgetReplicaAfter: "1 minute" } as const

const startRegistry = Effect.gen(function* () {
  const scope = yield* Effect.acquireRelease(Scope.make(), (scope) => Scope.close(scope, Exit.void))
  const context = yield* Layer.buildWithScope(Registry.layer.pipe(Layer.provide(RegistryConfig.layerWith(config))), scope)
  return { registry: Context.get(context, Registry), stop: Scope.close(scope, Exit.void) }
})

const onlineOf = (registry: Registry["Service"]) =>
  registry.list().pipe(Effect.map((reply) => Object.fromEntries(reply.stages.map((s) => [s.metadata.type, s.online]))))

const beat = (pool: string, executorId: string) => new Heartbeat({ version: 1, pool, executorId, slots: 2, inFlight: 0 })

const withBus = <A, E>(effect: Effect.Effect<A, E, Bus | Scope.Scope>) =>
  effect.pipe(Effect.provideService(Subjects, makeNames(uniquePrefix("live"))), Effect.provide(MemoryBus.layer))

describe("registry pool liveness", () => {
  it.effect("keeps a pool online while any replica beats and marks it offline after offlineAfter of silence", () =>
    withBus(
      Effect.gen(function* () {
        const { registry } = yield* startRegistry
        yield* registry.register(registration([stage("ingest")], { pool: "io", executorId: "r1" }))
        yield* registry.register(registration([stage("extract")], { pool: "nlp", executorId: "n1" }))
        yield* TestClock.adjust("10 seconds")
        yield* registry.heartbeat(beat("io", "r2"))
        yield* TestClock.adjust("10 seconds")
        yield* registry.sweep()
        assert.deepStrictEqual(yield* onlineOf(registry), { extract: false, ingest: true })
        yield* TestClock.adjust("4999 millis")
        yield* registry.sweep()
        assert.deepStrictEqual(yield* onlineOf(registry), { extract: false, ingest: true })
        yield* TestClock.adjust("1 millis")
        yield* registry.sweep()
        assert.deepStrictEqual(yield* onlineOf(registry), { extract: false, ingest: false })
        yield* registry.heartbeat(beat("io", "r1"))
        assert.deepStrictEqual(yield* onlineOf(registry), { extract: false, ingest: true })
      })
    )
  )

  it.effect("gives every pool a full offlineAfter after a registry restart before marking it offline", () =>
    withBus(
      Effect.gen(function* () {
        const first = yield* startRegistry
        yield* first.registry.register(registration([stage("ingest")], { pool: "io" }))
        yield* first.stop
        yield* TestClock.adjust("1 hour")
        const { registry } = yield* startRegistry
        yield* registry.sweep()
        assert.deepStrictEqual(yield* onlineOf(registry), { ingest: true })
        yield* TestClock.adjust("15 seconds")
        yield* registry.sweep()
        assert.deepStrictEqual(yield* onlineOf(registry), { ingest: false })
      })
    )
  )

  it.effect("forgets replicas silent for forgetReplicaAfter", () =>
    withBus(
      Effect.gen(function* () {
        const { registry } = yield* startRegistry
        const names = yield* Subjects
        const pools = yield* (yield* Bus).kv(names.buckets.pools)
        yield* registry.heartbeat(beat("io", "r1"))
        yield* registry.heartbeat(beat("io", "r.2 with odd*chars"))
        assert.strictEqual((yield* pools.keys).length, 2)
        yield* TestClock.adjust("30 seconds")
        yield* registry.heartbeat(beat("io", "r1"))
        yield* TestClock.adjust("31 seconds")
        yield* registry.sweep()
        assert.strictEqual((yield* pools.keys).length, 1)
      })
    )
  )

  it.effect("runs the sweep on its own every sweepInterval", () =>
    withBus(
      Effect.gen(function* () {
        const scope = yield* Effect.acquireRelease(Scope.make(), (scope) => Scope.close(scope, Exit.void))
        const context = yield* Layer.buildWithScope(
          Registry.layer.pipe(Layer.provide(RegistryConfig.layerWith({ offlineAfter: "15 seconds", sweepInterval: "1 second" }))),
          scope
        )
        const registry = Context.get(context, Registry)
        yield* registry.register(registration([stage("ingest")], { pool: "io" }))
        yield* TestClock.adjust("16 seconds")
        assert.deepStrictEqual(yield* onlineOf(registry), { ingest: false })
      })
    )
  )
})
