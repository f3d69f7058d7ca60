/**
 * A process plugin loaded from its manifest, served by an executor and run
 * in a pipeline through the registry and scheduler, over a real bus.
 */
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { fileURLToPath } from "node:url"
import { describe, expect, it } from "@effect/vitest"
import { Effect, Layer, Option, Schema } from "effect"
import type { Scope } from "effect"
import { Bus } from "../../../services/bus/Bus.ts"
import * as Codec from "../../../schemas/Codec.ts"
import { loadManifestFile, processStages } from "../../../services/plugins/index.ts"
import { WireType } from "../../../schemas/Catalog.ts"
import { RunSubmit, RunSubmitReply } from "../../../schemas/Run.ts"
import { SwitchyardClient } from "../../../sdk/client.ts"
import { Subjects } from "../../../schemas/Subjects.ts"
import { RunStore } from "../../../services/scheduler/index.ts"
import { defineStage } from "../../../sdk/defineStage.ts"
import { makeStack } from "../scheduler/harness.ts"
import { errorOf } from "../../support/results.ts"
import { isKind } from "../../support/events.ts"

const manifestPath = new URL("../../../examples/plugins/hello-process/plugin.yaml", import.meta.url).pathname
const reporterDir = fileURLToPath(new URL("./fixtures/reporter/", import.meta.url))

/** The reporter plugin, as it is (`oneShot`) or in a folder of its own with a warm pool; removed with the scope. */
export const reporterPlugin = (mode: "oneShot" | "pool") =>
  mode === "oneShot"
    ? loadManifestFile(join(reporterDir, "plugin.yaml"))
    : Effect.acquireRelease(
        Effect.promise(async () => {
          const dir = await mkdtemp(join(tmpdir(), "switchyard-reporter-"))
          const manifest = await readFile(join(reporterDir, "plugin.yaml"), "utf8")
          await writeFile(join(dir, "plugin.yaml"), `${manifest}pool: { size: 1 }\n`)
          await writeFile(join(dir, "index.ts"), `export * from ${JSON.stringify(join(reporterDir, "index.ts"))}\n`)
          return dir
        }),
        (dir) => Effect.promise(() => rm(dir, { recursive: true, force: true }))
      ).pipe(Effect.flatMap((dir) => loadManifestFile(join(dir, "plugin.yaml"))))

/** What the reporter's stage wrote. */
export interface Report {
  readonly traceparent: string | null
  readonly vars: Readonly<Record<string, string>>
  readonly input: Readonly<Record<string, unknown>>
}

const submitterTrace = "4bf92f3577b34da6a3ce929d0e0e4736"

/** An inline stage that reports `ctx.vars` and its input, as the reporter plugin does from its process. */
const inlineReport = defineStage({
  type: "test.inline_report",
  version: "1.0.0",
  description: "Reports its vars and input.",
  plugin: "test",
  stateKey: "inline",
  output: "set",
  count: "one",
  inputs: Schema.Record(Schema.String, Schema.String),
  outputs: Schema.Struct({ vars: Schema.Record(Schema.String, Schema.String), input: Schema.Record(Schema.String, Schema.String) }),
  run: (input, ctx) => ({ vars: { ...ctx.vars }, input })
})

/** Sends `run.submit` with vars (what `switchyard run --var` sends) and returns the run id. */
const submitWithVars = (stack: Effect.Success<ReturnType<typeof makeStack>>, text: string, vars: Record<string, string>) =>
  Effect.gen(function* () {
    const request = Codec.encode(RunSubmit, WireType.RunSubmit, new RunSubmit({ version: 1, file: "vars.yaml", text, inputs: {}, vars }))
    const answer = yield* stack.bus.request(stack.names.runSubmit, request.data, { timeout: "10 seconds", headers: request.headers })
    const reply = yield* Codec.decode(RunSubmitReply, WireType.RunSubmitReply)(answer)
    expect(reply.issues).toEqual([])
    return reply.runId!
  })

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

    for (const mode of ["oneShot", "pool"] as const) {
      it.live(`gives a process plugin (${mode}) a TRACEPARENT in the run's trace`, () =>
        run(
          Effect.gen(function* () {
            const loaded = yield* reporterPlugin(mode)
            const stack = yield* makeStack(`proctrace${mode}`)
            yield* stack.registry
            yield* stack.executor({ pool: "process", definitions: yield* processStages(loaded) })
            yield* stack.scheduler()
            yield* stack.registered(["test/reporter.report"])
            // The submit continues the submitter's trace, so the run's trace id is the submitter's.
            const request = Codec.encode(
              RunSubmit,
              WireType.RunSubmit,
              new RunSubmit({
                version: 1,
                file: "traced.yaml",
                text: "name: traced\nstages:\n  - { name: report, type: test/reporter.report }\n",
                inputs: {}
              })
            )
            const answer = yield* stack.bus.request(stack.names.runSubmit, request.data, {
              timeout: "10 seconds",
              headers: { ...request.headers, traceparent: `00-${submitterTrace}-00f067aa0ba902b7-01` }
            })
            const reply = yield* Codec.decode(RunSubmitReply, WireType.RunSubmitReply)(answer)
            const { finished } = yield* stack.finished(reply.runId!)
            expect(finished.status).toBe("succeeded")
            const report = finished.state!.report as unknown as Report
            expect(report.traceparent).toMatch(/^00-[0-9a-f]{32}-[0-9a-f]{16}-0[01]$/)
            expect(report.traceparent!.split("-")[1]).toBe(submitterTrace)
            expect(report.traceparent!.split("-")[2]).not.toBe("0".repeat(16))
          })
        )
      )
    }

    it.live("reports a plugin process's duration, exit code and peak memory in its task result, run record and events", () =>
      run(
        Effect.gen(function* () {
          const megabytes = 64
          const stack = yield* makeStack("procmetrics")
          yield* stack.registry
          yield* stack.executor({ pool: "process", definitions: yield* processStages(yield* reporterPlugin("oneShot")) })
          yield* stack.scheduler()
          yield* stack.registered(["test/reporter.allocate"])
          const services = Layer.mergeAll(Layer.succeed(Bus, stack.bus), Layer.succeed(Subjects, stack.names))
          const client = yield* Effect.provide(Effect.service(SwitchyardClient), Layer.provide(SwitchyardClient.layer, services))
          const store = yield* Effect.provide(Effect.service(RunStore), Layer.orDie(Layer.provide(RunStore.layer, services)))

          const result = yield* client.runTask({
            stageType: "test/reporter.allocate",
            pool: "process",
            inputs: { megabytes, exitCode: 3 }
          })
          expect(result.status).toBe("failed")
          expect(errorOf(result)?.tag).toBe("ProcessExitError")
          expect(result.metrics?.exitCode).toBe(3)
          expect(result.metrics?.peakRssBytes).toBeGreaterThanOrEqual(megabytes * 1024 * 1024)
          expect(result.metrics?.durationMs).toBeGreaterThan(0)

          for (const exitCode of [0, 3]) {
            const reply = yield* stack.submit(`
name: metrics
stages:
  - { name: allocate, type: test/reporter.allocate, inputs: { megabytes: ${megabytes}, exitCode: ${exitCode} } }
`)
            const { events } = yield* stack.finished(reply.runId!)
            const ended = exitCode === 0 ? events.find(isKind("stage.finished")) : events.find(isKind("stage.failed"))
            const record = (yield* store.load(reply.runId!)).pipe(Option.getOrThrow).doc
            for (const metrics of [ended?.metrics, record.stages.allocate?.metrics]) {
              expect(metrics?.exitCode).toBe(exitCode)
              expect(metrics?.peakRssBytes).toBeGreaterThanOrEqual(megabytes * 1024 * 1024)
              expect(metrics?.durationMs).toBeGreaterThan(0)
            }
          }
        })
      )
    )

    for (const mode of ["oneShot", "pool"] as const) {
      it.live(
        `renders {{ vars.KEY }} and hands ctx.vars to inline stages and process plugins (${mode}): executor < pipeline < submit`,
        () =>
          run(
            Effect.gen(function* () {
              const stack = yield* makeStack(`procvars${mode}`)
              yield* stack.registry
              // A pool has one runtime: the inline stage has its own, with the same executor vars.
              const vars = { GREETING: "executor", WHO: "executor", PLACE: "executor" }
              yield* stack.executor({ pool: "process", vars, definitions: yield* processStages(yield* reporterPlugin(mode)) })
              yield* stack.executor({ pool: "inline", vars, definitions: [inlineReport] })
              yield* stack.scheduler()
              yield* stack.registered(["test/reporter.report", "test.inline_report"])
              const inputs = `{ text: "{{ vars.GREETING }} {{ vars.WHO }} at {{ vars.PLACE }}" }`
              const runId = yield* submitWithVars(
                stack,
                `
name: vars
vars: { GREETING: pipeline, WHO: pipeline }
stages:
  - { name: inline, type: test.inline_report, inputs: ${inputs} }
  - { name: report, type: test/reporter.report, inputs: ${inputs} }
`,
                { WHO: "submit" }
              )
              const { finished } = yield* stack.finished(runId)
              // The run record keeps the run's own vars (the pipeline's with the submit's over them).
              const services = Layer.mergeAll(Layer.succeed(Bus, stack.bus), Layer.succeed(Subjects, stack.names))
              const store = yield* Effect.provide(Effect.service(RunStore), Layer.orDie(Layer.provide(RunStore.layer, services)))
              const record = (yield* store.load(runId)).pipe(Option.getOrThrow).doc
              expect(record.vars).toEqual({ GREETING: "pipeline", WHO: "submit" })
              expect(finished.status).toBe("succeeded")
              const expected = {
                vars: { GREETING: "pipeline", WHO: "submit", PLACE: "executor" },
                input: { text: "pipeline submit at executor" }
              }
              expect(finished.state!.inline).toEqual(expected)
              const report = finished.state!.report as unknown as Report
              expect({ vars: report.vars, input: report.input }).toEqual(expected)
            })
          )
      )
    }

    it.live("fails a stage whose inputs name a var nobody defines, naming the stage and the key", () =>
      run(
        Effect.gen(function* () {
          const stack = yield* makeStack("procvarsunknown")
          yield* stack.registry
          yield* stack.executor({ pool: "process", definitions: yield* processStages(yield* reporterPlugin("oneShot")) })
          yield* stack.executor({ pool: "inline", definitions: [inlineReport] })
          yield* stack.scheduler()
          yield* stack.registered(["test/reporter.report", "test.inline_report"])
          for (const type of ["test/reporter.report", "test.inline_report"]) {
            const runId = yield* submitWithVars(
              stack,
              `
name: unknownvar
vars: { KNOWN: yes }
stages:
  - { name: uses_missing, type: ${type}, inputs: { text: "{{ vars.MISSING }}" } }
`,
              {}
            )
            const { events, finished } = yield* stack.finished(runId)
            expect(finished.status).toBe("failed")
            const failed = events.find((event) => event.kind === "stage.failed")
            expect(failed?.error?.tag).toBe("UnknownVarError")
            expect(failed?.error?.message).toContain('stage "uses_missing"')
            expect(failed?.error?.message).toContain("{{ vars.MISSING }}")
            expect(failed?.error?.message).toContain("defined: KNOWN")
          }
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
