/**
 * A process plugin loaded from its manifest, served by an executor and run
 * in a pipeline through the registry and scheduler, over a real bus.
 */
import { describe, expect, it } from "@effect/vitest"
import { Effect, Layer } from "effect"
import type { Scope } from "effect"
import type { Bus } from "../../../services/bus/Bus.ts"
import { loadManifestFile, processStages } from "../../../services/plugins/index.ts"
import { makeStack } from "../scheduler/harness.ts"

const manifestPath = new URL("../../../examples/plugins/hello-process/plugin.yaml", import.meta.url).pathname

export const processStageSuite = (name: string, makeBus: () => Layer.Layer<Bus, unknown>) =>
  describe(`process plugins over ${name}`, () => {
    const run = <A, E>(effect: Effect.Effect<A, E, Bus | Scope.Scope>) => effect.pipe(Effect.scoped, Effect.provide(Layer.orDie(makeBus())))

    it.live("runs a stage of a process plugin in a child process within a pipeline", () =>
      run(
        Effect.gen(function* () {
          const loaded = yield* loadManifestFile(manifestPath)
          const definitions = yield* processStages(loaded)
          expect(definitions.map((definition) => definition.metadata.type)).toEqual(["examples/hello-process.greet"])
          // The manifest writes no JSON Schemas: they come from the action's own effect schemas.
          expect(definitions[0]!.metadata.inputs).toEqual({
            $schema: "https://json-schema.org/draft/2020-12/schema",
            type: "object",
            properties: { name: { type: "string" } },
            required: ["name"],
            additionalProperties: true
          })
          expect(definitions[0]!.metadata.outputs).toEqual({ $schema: "https://json-schema.org/draft/2020-12/schema", type: "string" })
          const stack = yield* makeStack("proc")
          yield* stack.registry
          yield* stack.executor({ pool: "process", definitions })
          yield* stack.scheduler()
          yield* stack.registered(["examples/hello-process.greet"])
          const reply = yield* stack.submit(
            `
name: process
stages:
  - { name: greet, type: examples/hello-process.greet, inputs: { name: "{{ inputs.who }}" } }
`,
            { who: "Ada" }
          )
          const { finished } = yield* stack.finished(reply.runId!)
          expect(finished.status).toBe("succeeded")
          expect(finished.state).toEqual({ greeting: "Hello from a child process, Ada!" })
        })
      )
    )

    it.live("fails the task with the child's own error when the input does not fit the action", () =>
      run(
        Effect.gen(function* () {
          const loaded = yield* loadManifestFile(manifestPath)
          const stack = yield* makeStack("procbad")
          yield* stack.registry
          yield* stack.executor({ pool: "process", definitions: yield* processStages(loaded) })
          yield* stack.scheduler()
          yield* stack.registered(["examples/hello-process.greet"])
          // A literal 42 is refused before the run (the registered input schema wants a string); a
          // templated one is rendered at run time and reaches the child, which refuses it itself.
          const reply = yield* stack.submit(`
name: process
inputs: { n: 42 }
stages:
  - { name: greet, type: examples/hello-process.greet, inputs: { name: "{{ inputs.n }}" } }
`)
          const { finished } = yield* stack.finished(reply.runId!)
          expect(finished.status).toBe("failed")
          expect(finished.error?.message).toContain("name")
        })
      )
    )
  })
