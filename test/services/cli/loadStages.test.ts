import { cp, mkdir, mkdtemp, rm, writeFile } from "node:fs/promises"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { fileURLToPath } from "node:url"
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { loadStages } from "../../../services/cli/internal/loadStages.ts"

const helloProcess = fileURLToPath(new URL("../../../examples/plugins/hello-process", import.meta.url))

/** An empty project folder with a pipeline folder holding a plugin folder beside it, removed with the scope. */
const project = Effect.acquireRelease(
  Effect.gen(function* () {
    const dir = yield* Effect.promise(() => mkdtemp(join(tmpdir(), "switchyard-pipeline-plugins-")))
    yield* Effect.promise(() => mkdir(join(dir, "pipelines"), { recursive: true }))
    yield* Effect.promise(() => cp(helloProcess, join(dir, "pipelines", "extra", "hello-process"), { recursive: true }))
    yield* Effect.promise(() => writeFile(join(dir, "pipelines", "p.yaml"), "name: p\nstages: []\n"))
    return dir
  }),
  (dir) => Effect.promise(() => rm(dir, { recursive: true, force: true }))
)

describe("stages for a pipeline's plugins section", () => {
  it.live("adds the plugin folders the pipeline names, relative to the pipeline file, to the built-ins", () =>
    Effect.gen(function* () {
      const dir = yield* project
      const without = yield* loadStages([], { projectDir: dir })
      const types = without.map((definition) => definition.metadata.type)
      assert.include(types, "core/core.ingest")
      assert.notInclude(types, "examples/hello-process.greet")
      const withPlugins = yield* loadStages([], {
        projectDir: dir,
        pipeline: { file: join(dir, "pipelines", "p.yaml"), plugins: { paths: ["./extra"] } }
      })
      const added = withPlugins.map((definition) => definition.metadata.type).filter((type) => !types.includes(type))
      assert.deepStrictEqual(added, ["examples/hello-process.greet"])
    }).pipe(Effect.scoped)
  )

  it.live("refuses a package the pipeline requires that is not installed, naming it and where it looked", () =>
    Effect.gen(function* () {
      const dir = yield* project
      const file = join(dir, "pipelines", "p.yaml")
      const error = yield* Effect.flip(loadStages([], { projectDir: dir, pipeline: { file, plugins: { packages: ["@acme/http"] } } }))
      assert.strictEqual(error._tag, "PipelinePluginMissingError")
      assert.strictEqual(
        error.message,
        `${file}: plugins.packages: expected the npm package @acme/http installed as a Switchyard plugin in ${dir}/node_modules (a package.json with "switchyard": { "plugin": ... }), found none`
      )
    }).pipe(Effect.scoped)
  )
})
