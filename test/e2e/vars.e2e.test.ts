import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { runCli } from "./support/CliProcess.ts"

/** The final state of a `--json` run: its run.finished event's. */
const finalState = (stdout: string): Record<string, unknown> => {
  const events = stdout
    .split("\n")
    .filter((line) => line.startsWith("{"))
    .map((line) => JSON.parse(line) as { kind: string; state?: Record<string, unknown> })
  return events.find((event) => event.kind === "run.finished")?.state ?? {}
}

describe("switchyard run with vars", () => {
  it.live(
    "takes vars from SWITCHYARD_VAR_<KEY>, the pipeline's vars: and --var, in that order of precedence, for inline and process stages",
    () =>
      Effect.gen(function* () {
        const run = yield* runCli({
          label: "run vars",
          args: ["run", "test/e2e/fixtures/vars.yaml", "--module", "test/e2e/fixtures/varsStages.ts", "--var", "WHO=cli", "--json"],
          env: { SWITCHYARD_VAR_GREETING: "env", SWITCHYARD_VAR_WHO: "env", SWITCHYARD_VAR_PLACE: "env" },
          timeout: "60 seconds"
        })
        assert.strictEqual(run.code, 0, run.stderr)
        const state = finalState(run.stdout)
        const expected = { vars: { GREETING: "pipeline", WHO: "cli", PLACE: "env" }, input: { text: "pipeline cli at env" } }
        assert.deepStrictEqual(state.inline, expected)
        const report = state.report as { vars: unknown; input: unknown }
        assert.deepStrictEqual({ vars: report.vars, input: report.input }, expected)
      }).pipe(Effect.scoped)
  )

  it.live("fails the run with an error naming the stage and the var when a var is defined nowhere", () =>
    Effect.gen(function* () {
      const run = yield* runCli({
        label: "run vars without PLACE",
        args: ["run", "test/e2e/fixtures/vars.yaml", "--module", "test/e2e/fixtures/varsStages.ts", "--json"],
        timeout: "60 seconds"
      })
      assert.strictEqual(run.code, 1, run.stderr)
      assert.include(run.stdout, "UnknownVarError")
      assert.include(run.stdout, "{{ vars.PLACE }}")
    }).pipe(Effect.scoped)
  )
})
