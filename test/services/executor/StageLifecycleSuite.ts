/**
 * An executor whose stage types change while it runs, against the real
 * registry service, over a bus (run once per adapter): types added to its
 * catalog are registered and served, types removed are no longer served and
 * are deregistered, and a replica that shuts down deregisters what it served
 * unless another live replica of its pool still serves it.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect, Schema } from "effect"
import type { Layer, Scope } from "effect"
import type { Bus } from "../../../services/bus/Bus.ts"
import { stages as helloStages } from "../../../plugins/hello/index.ts"
import { defineStage } from "../../../sdk/defineStage.ts"
import { eventually } from "../../support/eventually.ts"
import { makeHarness } from "./harness.ts"
import { errorOf, outputOf } from "../../support/results.ts"

const wave = defineStage({
  type: "probe/probe.wave",
  version: "1.0.0",
  description: "waves",
  plugin: "probe",
  stateKey: "waved",
  output: "set",
  count: "one",
  inputs: Schema.Struct({ to: Schema.String }),
  outputs: Schema.String,
  run: ({ to }) => `waves at ${to}`
})

const helloTypes = helloStages.map((definition) => definition.metadata.type)

/** Registers the stage lifecycle tests for one bus. */
export const stageLifecycleSuite = (label: string, busLayer: () => Layer.Layer<Bus, unknown>) => {
  const run = <A, E>(test: Effect.Effect<A, E, Bus | Scope.Scope>) => test.pipe(Effect.scoped, Effect.provide(busLayer()))

  describe(`executor stage lifecycle over ${label}`, () => {
    it.live("registers and serves stage types added to its catalog, then stops serving and deregisters them once removed", () =>
      run(
        Effect.gen(function* () {
          const h = yield* makeHarness("lifecycle")
          yield* h.startRegistry
          const client = yield* h.registryClient
          const registered = client.list().pipe(Effect.map((reply) => reply.stages.map((stage) => stage.metadata.type)))
          const replica = yield* h.startReplica({ pool: "hello", definitions: helloStages })

          yield* replica.catalog.add([wave])
          yield* eventually("probe/probe.wave registered", registered.pipe(Effect.map((types) => types.includes("probe/probe.wave"))))
          assert.include(yield* replica.executor.served, "probe/probe.wave")
          const served = yield* h.submit("hello", { stageType: "probe/probe.wave", inputs: { to: "Ada" } })
          assert.strictEqual(outputOf((yield* h.resultOf(served.taskId)).result), "waves at Ada")

          yield* replica.catalog.remove(["probe/probe.wave"])
          yield* eventually("probe/probe.wave deregistered", registered.pipe(Effect.map((types) => !types.includes("probe/probe.wave"))))
          assert.notInclude(yield* replica.executor.served, "probe/probe.wave")
          assert.includeMembers(yield* registered, helloTypes)
          const refused = yield* h.submit("hello", { stageType: "probe/probe.wave", inputs: { to: "Ada" } })
          assert.strictEqual(errorOf((yield* h.resultOf(refused.taskId)).result)?.tag, "UnknownStageError")
        })
      )
    )

    it.live("deregisters its stage types when it shuts down, once no other live replica of the pool serves them", () =>
      run(
        Effect.gen(function* () {
          const h = yield* makeHarness("shutdown")
          yield* h.startRegistry
          const client = yield* h.registryClient
          const registered = client.list().pipe(Effect.map((reply) => reply.stages.map((stage) => stage.metadata.type)))
          const first = yield* h.startReplica({ pool: "hello", executorId: "replica-a", definitions: [...helloStages, wave] })
          const second = yield* h.startReplica({ pool: "hello", executorId: "replica-b", definitions: helloStages })
          assert.isTrue(yield* second.executor.registered)

          yield* first.stop
          // replica-b still serves the hello types; nobody else served probe/probe.wave.
          const afterFirst = yield* registered
          assert.includeMembers(afterFirst, helloTypes)
          assert.notInclude(afterFirst, "probe/probe.wave")

          yield* second.stop
          assert.deepStrictEqual(yield* registered, [])
        })
      )
    )
  })
}
