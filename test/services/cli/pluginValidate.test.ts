/**
 * `switchyard plugin validate` through the real CLI process: a manifest is
 * checked against its entry module (imported in a child process), so a plugin
 * that cannot run is refused with the file, line, column and field.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { repoRoot, runCli } from "../../e2e/support/CliProcess.ts"

const dir = "test/services/cli/fixtures/plugins/greeter"

const validate = (manifest: string) =>
  runCli({ label: `plugin validate ${manifest}`, args: ["plugin", "validate", `${dir}/${manifest}`], timeout: "60 seconds" })

describe("switchyard plugin validate", () => {
  it.live("accepts a manifest whose stages name exported actions, without or with the derived JSON Schemas", () =>
    Effect.gen(function* () {
      for (const manifest of ["plugin.yaml", "same-schemas.yaml"]) {
        const result = yield* validate(manifest)
        assert.strictEqual(result.code, 0, result.stderr)
        assert.strictEqual(result.stdout, `${dir}/${manifest}: valid plugin local/greeter 0.1.0 (local/greeter.greet)\n`)
      }
    })
  )

  it.live("refuses a stage that names no exported action", () =>
    Effect.gen(function* () {
      const result = yield* validate("unknown-action.yaml")
      assert.strictEqual(result.code, 2, result.stderr)
      assert.strictEqual(
        result.stderr,
        `${dir}/unknown-action.yaml:15:11: stages[1].name: expected an action named "wave" exported by ./actions.ts (a defineAction value), found actions greet\n`
      )
    })
  )

  it.live("refuses an entry file that does not exist", () =>
    Effect.gen(function* () {
      const result = yield* validate("missing-entry.yaml")
      assert.strictEqual(result.code, 2, result.stderr)
      assert.strictEqual(
        result.stderr,
        `${dir}/missing-entry.yaml:7:8: entry: expected a module file at "./missing.ts", found nothing at ${repoRoot}${dir}/missing.ts\n`
      )
    })
  )

  it.live("refuses an entry module that fails when imported, and stays up itself", () =>
    Effect.gen(function* () {
      const result = yield* validate("throwing-entry.yaml")
      assert.strictEqual(result.code, 2, result.stderr)
      assert.strictEqual(
        result.stderr,
        `${dir}/throwing-entry.yaml:7:8: entry: expected a module that imports, found PluginLoadError: ${repoRoot}${dir}/throws.ts: greeter cannot start without its config\n`
      )
    })
  )

  it.live("refuses manifest JSON Schemas that differ from the action's, naming the field path", () =>
    Effect.gen(function* () {
      const result = yield* validate("other-schemas.yaml")
      assert.strictEqual(result.code, 2, result.stderr)
      assert.strictEqual(
        result.stderr,
        `${dir}/other-schemas.yaml:18:23: stages[0].inputs.properties.name.type: expected "string" as derived from the inputs schema of action "greet", found "number"\n`
      )
    })
  )

  it.live("refuses a timeout without a unit, saying to add one", () =>
    Effect.gen(function* () {
      const result = yield* validate("bare-timeout.yaml")
      assert.strictEqual(result.code, 2, result.stderr)
      assert.strictEqual(
        result.stderr,
        `${dir}/bare-timeout.yaml:15:5: stages[0].timeout: expected a duration with a unit such as 30s, 500ms or 2m, found the bare number 30; add a unit (30ms if milliseconds were meant, 30s for seconds)\n`
      )
    })
  )
})
