/**
 * `switchyard run` refusing pipelines before anything runs, as a user sees
 * it: a real CLI process, its exit code 2, the located issues on stderr and,
 * with `--json`, one `pipeline.invalid` object on stdout.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect, Schema } from "effect"
import { PipelineIssue } from "../../schemas/Run.ts"
import { runCli } from "./support/CliProcess.ts"

/** What `switchyard run --json` prints for a refused pipeline. */
const Rejection = Schema.fromJsonString(
  Schema.Struct({ kind: Schema.Literal("pipeline.invalid"), file: Schema.String, issues: Schema.Array(PipelineIssue) })
)

const typo = "test/e2e/fixtures/typo.yaml"
const badInput = "test/e2e/fixtures/bad-input.yaml"
const hello = "examples/pipelines/hello.yaml"

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
})
