/**
 * Deregistration and short names in the registry, over a bus (run once per
 * adapter): a stage type leaves the registry only when its plugin asks, from
 * the pool that serves it, and no other live replica of that pool still
 * serves it; every removal is audited. Core stage types also resolve by
 * their short name when it is unambiguous.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect, Layer, Scope } from "effect"
import type { Duration } from "effect"
import { Heartbeat, StageDeregistration } from "../../../schemas/Registry.ts"
import type { Bus } from "../../../services/bus/Bus.ts"
import { makeNames, type Names, Subjects } from "../../../schemas/Subjects.ts"
import { Registry, RegistryClient, RegistryConfig } from "../../../services/registry/index.ts"
import { eventually } from "../../support/eventually.ts"
import { uniquePrefix } from "../../support/unique.ts"
import { auditEntry, readAudit, registration, stage } from "./RegistrySuite.ts"

const acme = (type: string) => stage(type, { plugin: "acme" })

const deregistration = (
  types: ReadonlyArray<string>,
  options: {
    readonly executorId?: string
    readonly plugin?: string
    readonly pool?: string
    readonly reason?: StageDeregistration["reason"]
  } = {}
) =>
  new StageDeregistration({
    version: 1,
    pool: options.pool ?? "main",
    executorId: options.executorId ?? "replica-1",
    plugin: options.plugin ?? "acme",
    types,
    reason: options.reason ?? "shutdown"
  })

const beat = (executorId: string, types: ReadonlyArray<string>) =>
  new Heartbeat({ version: 1, pool: "main", executorId, slots: 1, inFlight: 0, types })

/** Runs the deregistration suite over the bus built by `makeBus` (a fresh one per test). */
export const deregistrationSuite = (name: string, makeBus: () => Layer.Layer<Bus, unknown>): void => {
  const test = (
    title: string,
    body: (names: Names) => Effect.Effect<void, unknown, Bus | RegistryClient | Scope.Scope>,
    config: { readonly offlineAfter?: Duration.Input } = {}
  ) =>
    it.live(title, () =>
      Effect.gen(function* () {
        const names = makeNames(uniquePrefix("dereg"))
        yield* Effect.gen(function* () {
          yield* Layer.build(Registry.layer.pipe(Layer.provide(RegistryConfig.layerWith(config))))
          yield* body(names)
        }).pipe(Effect.provide(RegistryClient.layerWith({ timeout: "5 seconds" })), Effect.provideService(Subjects, names))
      }).pipe(Effect.scoped, Effect.provide(makeBus()))
    )

  const listed = RegistryClient.use((client) => client.list()).pipe(
    Effect.map((reply) => reply.stages.map((registered) => registered.metadata.type))
  )

  describe(`registry deregistration over the ${name} bus`, () => {
    test("removes the stage types the only replica of a pool deregisters and audits each removal", (names) =>
      Effect.gen(function* () {
        const client = yield* RegistryClient
        const audit = yield* readAudit(names)
        yield* client.register(registration([acme("acme/a.one"), acme("acme/a.two"), stage("ingest")]))
        const reply = yield* client.deregister(deregistration(["acme/a.one"], { reason: "plugin-removed" }))
        assert.deepStrictEqual(
          reply.decisions.map((decision) => [decision.type, decision.removed]),
          [["acme/a.one", true]]
        )
        assert.deepStrictEqual(yield* listed, ["acme/a.two", "ingest"])
        const entry = yield* auditEntry(audit, "acme/a.one deregistered", (entry) => entry.event === "deregistered")
        assert.deepStrictEqual(
          [entry.stage, entry.plugin, entry.pool, entry.executorId, entry.stageVersion],
          ["acme/a.one", "acme", "main", "replica-1", "1.0.0"]
        )
        const resolved = yield* client.resolve(["acme/a.one"])
        assert.deepStrictEqual(
          resolved.missing.map((missing) => missing.type),
          ["acme/a.one"]
        )
      }))

    test("keeps a stage type while another live replica of the pool serves it and removes it when the last one leaves", () =>
      Effect.gen(function* () {
        const client = yield* RegistryClient
        yield* client.register(registration([acme("acme/a.one")], { executorId: "replica-1" }))
        yield* client.register(registration([acme("acme/a.one")], { executorId: "replica-2" }))
        const first = yield* client.deregister(deregistration(["acme/a.one"], { executorId: "replica-1" }))
        assert.deepStrictEqual([first.decisions[0]!.removed, first.decisions[0]!.kept?.code], [false, "still-served"])
        assert.include(first.decisions[0]!.kept!.message, "replica-2")
        assert.deepStrictEqual(yield* listed, ["acme/a.one"])
        // replica-1 shut down: it no longer counts when replica-2 leaves too.
        const last = yield* client.deregister(deregistration(["acme/a.one"], { executorId: "replica-2" }))
        assert.isTrue(last.decisions[0]!.removed, JSON.stringify(last.decisions))
        assert.deepStrictEqual(yield* listed, [])
      }))

    test("does not count a replica whose heartbeats no longer list the type", () =>
      Effect.gen(function* () {
        const client = yield* RegistryClient
        yield* client.register(registration([acme("acme/a.one"), acme("acme/a.two")], { executorId: "replica-1" }))
        yield* client.register(registration([acme("acme/a.one"), acme("acme/a.two")], { executorId: "replica-2" }))
        yield* client.heartbeat(beat("replica-2", ["acme/a.two"]))
        const reply = yield* client.deregister(deregistration(["acme/a.one", "acme/a.two"], { reason: "plugin-removed" }))
        assert.deepStrictEqual(
          reply.decisions.map((decision) => [decision.type, decision.removed, decision.kept?.code]),
          [
            ["acme/a.one", true, undefined],
            ["acme/a.two", false, "still-served"]
          ]
        )
      }))

    test(
      "does not count a replica that stopped beating",
      () =>
        Effect.gen(function* () {
          const client = yield* RegistryClient
          yield* client.register(registration([acme("acme/a.one")], { executorId: "replica-1" }))
          yield* client.register(registration([acme("acme/a.one")], { executorId: "replica-2" }))
          // replica-2 never beats again; replica-1 keeps beating while it asks.
          yield* eventually(
            "acme/a.one removed once replica-2 is no longer live",
            client.heartbeat(beat("replica-1", ["acme/a.one"])).pipe(
              Effect.andThen(client.deregister(deregistration(["acme/a.one"], { reason: "plugin-removed" }))),
              Effect.map((reply) => reply.decisions[0]!.removed)
            ),
            { timeout: "10 seconds", interval: "100 millis" }
          )
          assert.deepStrictEqual(yield* listed, [])
        }),
      { offlineAfter: "500 millis" }
    )

    test("keeps stage types another plugin owns, another pool serves, or nobody registered, saying why", () =>
      Effect.gen(function* () {
        const client = yield* RegistryClient
        yield* client.register(registration([acme("acme/a.one")]))
        yield* client.register(registration([stage("other/b.one", { plugin: "other" })], { pool: "elsewhere", executorId: "replica-9" }))
        const reply = yield* client.deregister(deregistration(["acme/a.one", "other/b.one", "acme/nothing"], { plugin: "acme" }))
        const byOther = yield* client.deregister(deregistration(["acme/a.one"], { plugin: "intruder" }))
        assert.deepStrictEqual(
          [...reply.decisions, ...byOther.decisions].map((decision) => [decision.type, decision.removed, decision.kept?.code]),
          [
            ["acme/a.one", true, undefined],
            ["other/b.one", false, "not-owner"],
            ["acme/nothing", false, "not-registered"],
            ["acme/a.one", false, "not-registered"]
          ]
        )
        const fromPool = yield* client.deregister(deregistration(["other/b.one"], { plugin: "other" }))
        assert.deepStrictEqual([fromPool.decisions[0]!.removed, fromPool.decisions[0]!.kept?.code], [false, "other-pool"])
        assert.include(fromPool.decisions[0]!.kept!.message, `pool "elsewhere"`)
        const intruder = yield* client.register(registration([acme("acme/a.two")]))
        const refused = yield* client.deregister(deregistration(["acme/a.two"], { plugin: "intruder" }))
        assert.isTrue(intruder.decisions[0]!.accepted)
        assert.deepStrictEqual([refused.decisions[0]!.removed, refused.decisions[0]!.kept?.code], [false, "not-owner"])
        assert.include(refused.decisions[0]!.kept!.message, `plugin "acme"`)
        assert.deepStrictEqual(yield* listed, ["acme/a.two", "other/b.one"])
      }))
  })

  describe(`registry short names over the ${name} bus`, () => {
    test("resolves the short name of a core stage type to the registered type", () =>
      Effect.gen(function* () {
        const client = yield* RegistryClient
        yield* client.register(registration([stage("core/core.ingest"), stage("core/core.extract"), stage("hello.greet")]))
        const reply = yield* client.resolve(["ingest", "core/core.extract", "greet"])
        assert.deepStrictEqual(
          reply.found.map((found) => found.metadata.type),
          ["core/core.ingest", "core/core.extract"]
        )
        // Only core types have short names.
        assert.deepStrictEqual(
          reply.missing.map((missing) => missing.type),
          ["greet"]
        )
      }))

    test("resolves no short name two core stage types share", () =>
      Effect.gen(function* () {
        const client = yield* RegistryClient
        yield* client.register(registration([stage("core/core.chunk"), stage("core/text.chunk"), stage("core/core.ingest")]))
        const reply = yield* client.resolve(["chunk", "ingest"])
        assert.deepStrictEqual(
          reply.found.map((found) => found.metadata.type),
          ["core/core.ingest"]
        )
        assert.deepStrictEqual(
          reply.missing.map((missing) => missing.type),
          ["chunk"]
        )
      }))
  })
}
