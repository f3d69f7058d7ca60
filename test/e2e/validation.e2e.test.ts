/**
 * `switchyard run` refusing pipelines before anything runs, as a user sees
 * it: a real CLI process, its exit code 2, the located issues on stderr and,
 * with `--json`, one `pipeline.invalid` object on stdout.
 */
import { assert, describe, it } from "@effect/vitest"
import { mkdtemp, rm } from "node:fs/promises"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { Context, Effect, Layer, Schema } from "effect"
import { PipelineIssue } from "../../schemas/Run.ts"
import { Bus } from "../../services/bus/Bus.ts"
import * as NatsBus from "../../services/bus/NatsBus.ts"
import { RegistryClient } from "../../services/registry/index.ts"
import { eventually } from "../support/eventually.ts"
import { repoRoot, runCli, spawnCli } from "./support/CliProcess.ts"
import { runPipeline, startStack } from "./support/Stack.ts"
import { ownNatsServer } from "./support/ownNatsServer.ts"

const natsUrl = ownNatsServer()

/** What `switchyard run --json` prints for a refused pipeline. */
const Rejection = Schema.fromJsonString(
  Schema.Struct({ kind: Schema.Literal("pipeline.invalid"), file: Schema.String, issues: Schema.Array(PipelineIssue) })
)

const typo = "test/e2e/fixtures/typo.yaml"
const badInput = "test/e2e/fixtures/bad-input.yaml"
const hello = "examples/pipelines/hello.yaml"
const needsPlugin = "test/e2e/fixtures/needs-plugin.yaml"
const helloProcess = join(repoRoot, "examples", "plugins", "hello-process")

describe("switchyard run refuses an invalid pipeline", () => {
  it.live(
    "exits 2 naming a misspelt stage key with the key it meant",
    () =>
      Effect.gen(function* () {
        const run = yield* runCli({ label: "run typo", args: ["run", typo] })
        assert.strictEqual(run.code, 2, run.stderr)
        assert.include(run.stderr, `${typo}:10:5: stage "shout": stages[1].dependson: unknown key "dependson" (did you mean "depends_on"?)`)
        assert.strictEqual(run.stdout, "")
      }),
    30_000
  )

  it.live(
    "exits 2 naming each literal input that does not match its stage type's input schema",
    () =>
      Effect.gen(function* () {
        const run = yield* runCli({ label: "run bad-input", args: ["run", badInput] })
        assert.strictEqual(run.code, 2, run.stderr)
        assert.include(
          run.stderr,
          `${badInput}:9:13: stage "greet": stages[0].inputs.name: input schema of hello.greet: expected string, found 42`
        )
        assert.include(
          run.stderr,
          `${badInput}:13:11: stage "nap": stages[1].config.ms: input schema of hello.sleep: expected integer, found "soon"`
        )
        assert.notInclude(run.stderr, `stage "later"`)
        assert.strictEqual(run.stdout, "")
      }),
    30_000
  )

  it.live(
    "exits 2 naming a run input the pipeline does not take, and the inputs it takes",
    () =>
      Effect.gen(function* () {
        const run = yield* runCli({ label: "run hello --input nmae", args: ["run", hello, "--input", "nmae=Ada"] })
        assert.strictEqual(run.code, 2, run.stderr)
        assert.include(run.stderr, `${hello}:7:3: inputs: unknown run input "nmae" (did you mean "name"?); the pipeline's inputs: name`)
        assert.strictEqual(run.stdout, "")
      }),
    30_000
  )

  it.live(
    "with --json prints the issues as one pipeline.invalid object on stdout, found on load or by the scheduler",
    () =>
      Effect.gen(function* () {
        const [parsed, validated, inputs] = yield* Effect.all(
          [
            runCli({ label: "run typo --json", args: ["run", typo, "--json"] }),
            runCli({ label: "run bad-input --json", args: ["run", badInput, "--json"] }),
            runCli({ label: "run hello --input nmae --json", args: ["run", hello, "--json", "--input", "nmae=Ada"] })
          ],
          { concurrency: 3 }
        )
        for (const run of [parsed, validated, inputs]) assert.strictEqual(run.code, 2, run.stderr)
        assert.deepStrictEqual(Schema.decodeUnknownSync(Rejection)(parsed.stdout.trim()), {
          kind: "pipeline.invalid",
          file: typo,
          issues: [
            new PipelineIssue({
              file: typo,
              line: 10,
              column: 5,
              stage: "shout",
              path: "stages[1].dependson",
              message: `unknown key "dependson" (did you mean "depends_on"?)`
            })
          ]
        })
        const rejected = Schema.decodeUnknownSync(Rejection)(validated.stdout.trim())
        assert.deepStrictEqual(
          rejected.issues.map(({ column, line, path, stage }) => ({ line, column, stage, path })),
          [
            { line: 9, column: 13, stage: "greet", path: "stages[0].inputs.name" },
            { line: 13, column: 11, stage: "nap", path: "stages[1].config.ms" }
          ]
        )
        const unknownInput = Schema.decodeUnknownSync(Rejection)(inputs.stdout.trim())
        assert.deepStrictEqual(
          unknownInput.issues.map((issue) => issue.message),
          [`unknown run input "nmae" (did you mean "name"?); the pipeline's inputs: name`]
        )
      }),
    30_000
  )

  it.live(
    "over NATS exits 2 naming a plugin of the pipeline's plugins section that no live pool serves, and what to start",
    () =>
      Effect.gen(function* () {
        const url = natsUrl()
        yield* startStack({ natsUrl: url, replicas: ["a"] })
        const refused = yield* runPipeline(needsPlugin, ["--nats", url])
        assert.strictEqual(refused.code, 2, refused.stderr)
        const start = `SWITCHYARD_PLUGINS_PATH=${helloProcess} switchyard executor --runtime process --pool hello-process --nats ${url}`
        assert.include(
          refused.stderr,
          `${needsPlugin}:4:11: plugins.paths[0]: plugin examples/hello-process (${helloProcess}) is not served by the deployment at ${url}: no stage type of it is registered; start an executor that serves it: ${start}`
        )

        // Started as the message says, the plugin is served and the pipeline runs.
        const xdg = yield* Effect.acquireRelease(
          Effect.promise(() => mkdtemp(join(tmpdir(), "switchyard-validation-xdg-"))),
          (dir) => Effect.promise(() => rm(dir, { recursive: true, force: true }))
        )
        yield* spawnCli({
          label: "executor hello-process",
          args: ["executor", "--runtime", "process", "--pool", "hello-process", "--nats", url],
          env: { SWITCHYARD_PLUGINS_PATH: helloProcess, XDG_DATA_HOME: xdg }
        })
        const bus = yield* Layer.build(NatsBus.layer({ url, name: "e2e-validation-probe" })).pipe(
          Effect.map((context) => Context.get(context, Bus))
        )
        const registry = yield* Layer.build(RegistryClient.layer.pipe(Layer.provide(Layer.succeed(Bus, bus)))).pipe(
          Effect.map((context) => Context.get(context, RegistryClient))
        )
        yield* eventually(
          "examples/hello-process.greet registered by a live pool",
          registry
            .list()
            .pipe(
              Effect.map((reply) => reply.stages.some((stage) => stage.metadata.type === "examples/hello-process.greet" && stage.online))
            ),
          { timeout: "20 seconds", interval: "100 millis" }
        )
        const ran = yield* runPipeline(needsPlugin, ["--nats", url])
        assert.strictEqual(ran.code, 0, ran.stderr)
        assert.strictEqual(ran.finished?.status, "succeeded")
      }),
    60_000
  )
})
