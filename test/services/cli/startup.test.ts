/**
 * What the `switchyard` command loads when it only prints: the help, the
 * version and a command's help need the command tree, not the services, the
 * bus adapters, the parsers or the plugins; listing a deployment's stages
 * needs the NATS adapter and the registry client besides. Each command runs
 * as a real process with a module hook that lists what it loaded; nothing
 * is timed here (`npm run bench:cli` measures the start).
 */
import { relative } from "node:path"
import { fileURLToPath } from "node:url"
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { inject } from "vitest"
import { repoRoot, runCli, spawnCli } from "../../e2e/support/CliProcess.ts"
import { uniquePrefix } from "../../support/unique.ts"

const hook = new URL("../../support/loadedModulesHook.ts", import.meta.url).href
const marker = "loaded modules: "

// Where each heavy part lives, as a path under the repository (node_modules included): what no
// printing command and not `stages` either may load.
const heavyForStages = [
  "node_modules/yaml/",
  "node_modules/ajv/",
  "node_modules/pdfjs-dist/",
  "services/bus/MemoryBus.ts",
  "services/bus/SwitchyardClient.ts",
  "services/registry/Registry.ts",
  "services/scheduler/",
  "services/executor/",
  "services/runtimes/",
  "services/plugins/",
  "services/cli/Stack.ts",
  "services/cli/internal/loadStages.ts",
  "plugins/"
]

// What `stages` against a deployment needs is the NATS adapter and the registry client; a command
// that only prints needs neither.
const heavy = [...heavyForStages, "node_modules/@nats-io/", "services/bus/NatsBus.ts", "services/registry/"]

/** Runs `switchyard <args>` under the hook; its stdout and the repository paths of the modules it loaded. */
const loadedBy = (args: ReadonlyArray<string>, env: Readonly<Record<string, string>> = {}) =>
  Effect.gen(function* () {
    const result = yield* runCli({
      label: `switchyard ${args.join(" ")}`,
      args,
      env: { ...env, NODE_OPTIONS: [process.env.NODE_OPTIONS, `--import=${hook}`].filter(Boolean).join(" ") }
    })
    assert.strictEqual(result.code, 0, result.stderr)
    const line = result.stderr.split("\n").find((candidate) => candidate.startsWith(marker))
    assert.isDefined(line, `no module list on stderr:\n${result.stderr}`)
    const urls = JSON.parse(line!.slice(marker.length)) as ReadonlyArray<string>
    const paths = urls.filter((url) => url.startsWith("file:")).map((url) => relative(repoRoot, fileURLToPath(url)))
    return { stdout: result.stdout, paths }
  })

const assertLight = (paths: ReadonlyArray<string>, forbidden: ReadonlyArray<string> = heavy) => {
  // The hook saw the command tree itself, so an empty list cannot pass for a light one.
  assert.include(paths, "services/cli/Commands.ts")
  const loaded = paths.filter((path) =>
    forbidden.some((part) => path.startsWith(part) || (part.startsWith("node_modules/") && path.includes(`/${part}`)))
  )
  assert.deepStrictEqual(loaded, [], `modules this command should not load:\n${loaded.join("\n")}`)
}

describe("switchyard start", () => {
  it.live("prints the version without loading the services, the bus adapters, the parsers or the plugins", () =>
    Effect.gen(function* () {
      const { paths, stdout } = yield* loadedBy(["--version"])
      assert.match(stdout, /^switchyard v\d+\.\d+\.\d+/)
      assertLight(paths)
    })
  )

  it.live("prints the help without loading the services, the bus adapters, the parsers or the plugins", () =>
    Effect.gen(function* () {
      const { paths, stdout } = yield* loadedBy(["--help"])
      assert.include(stdout, "stages")
      assertLight(paths)
    })
  )

  it.live("prints a command's help without loading what the command runs", () =>
    Effect.gen(function* () {
      const { paths, stdout } = yield* loadedBy(["stages", "--help"])
      assert.include(stdout, "--nats")
      assertLight(paths)
    })
  )

  it.live(
    "lists a deployment's stage types with the NATS adapter and the registry client, without the parsers, the plugins or the other services",
    () =>
      Effect.gen(function* () {
        const env = { SWITCHYARD_PREFIX: uniquePrefix("start") }
        const nats = ["--nats", inject("natsUrl")]
        const registry = yield* spawnCli({ label: "registry", args: ["registry", ...nats], env })
        yield* registry.logged("registry ready", { timeout: "90 seconds" })
        const { paths, stdout } = yield* loadedBy(["stages", ...nats], env)
        assert.match(stdout, /^TYPE\s+VERSION\s+POOL\s+STATE\s+DESCRIPTION/)
        assert.include(paths, "services/registry/RegistryClient.ts")
        assertLight(paths, heavyForStages)
      })
  )
})
