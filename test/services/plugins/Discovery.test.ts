import { assert, describe, it } from "@effect/vitest"
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import * as NodePath from "node:path"
import { Clock, ConfigProvider, Effect } from "effect"
import { repoRoot, runCli } from "../../e2e/support/CliProcess.ts"
import { discoverPlugins, discoverProjectPlugins } from "../../../services/plugins/Discovery.ts"
import { loadPluginsConfig } from "../../../services/plugins/PluginsConfig.ts"
import { loadManifest } from "../../../services/plugins/ManifestLoader.ts"
import { broadPermissionWarnings } from "../../../services/cli/PluginCommands.ts"

/** A fresh project folder, removed when the test's scope closes. */
const tempProject = Effect.acquireRelease(
  Effect.sync(() => mkdtempSync(NodePath.join(tmpdir(), "switchyard-discovery-"))),
  (dir) => Effect.sync(() => rmSync(dir, { recursive: true, force: true }))
)

const write = (file: string, text: string) => {
  mkdirSync(NodePath.dirname(file), { recursive: true })
  writeFileSync(file, text)
}

const manifest = (options: { readonly name: string; readonly namespace?: string; readonly actions?: ReadonlyArray<string> }) =>
  [
    `name: ${options.name}`,
    `namespace: ${options.namespace ?? "acme"}`,
    "version: 1.0.0",
    "description: A test plugin.",
    "runtime: process",
    "entry: ./index.js",
    "stages:",
    ...(options.actions ?? ["run"]).flatMap((action) => [
      `  - name: ${action}`,
      "    description: Does a thing.",
      "    output: none",
      "    count: one"
    ])
  ].join("\n") + "\n"

const writePlugin = (dir: string, options: Parameters<typeof manifest>[0]) => write(NodePath.join(dir, "plugin.yaml"), manifest(options))

/** An entry module exporting one action per name; it imports effect and the SDK from this repository. */
const actionsModule = (actions: ReadonlyArray<string>) =>
  [
    `import { Schema } from ${JSON.stringify(import.meta.resolve("effect"))}`,
    `import { defineAction } from ${JSON.stringify(new URL("../../../sdk/defineAction.ts", import.meta.url).href)}`,
    ...actions.map(
      (action, index) =>
        `export const action${index} = defineAction({ name: ${JSON.stringify(action)}, inputs: Schema.Unknown, outputs: Schema.Null, run: () => null })`
    )
  ].join("\n") + "\n"

const writePackage = (dir: string, options: Parameters<typeof manifest>[0] & { readonly packageName: string }) => {
  write(NodePath.join(dir, "package.json"), JSON.stringify({ name: options.packageName, switchyard: { plugin: "./plugin.yaml" } }))
  writePlugin(dir, options)
}

/** Environment for the config readers, isolated from the test runner's own. */
const withEnv = (env: Record<string, string>) => Effect.provideService(ConfigProvider.ConfigProvider, ConfigProvider.fromEnvRecord(env))

const discoverIn = (projectDir: string, env: Record<string, string> = {}) =>
  discoverProjectPlugins({ projectDir }).pipe(withEnv({ XDG_DATA_HOME: NodePath.join(projectDir, "xdg"), ...env }))

describe("plugin discovery", () => {
  it.effect("finds a plugin folder on the paths and an npm package in node_modules, each with its source", () =>
    Effect.gen(function* () {
      const project = yield* tempProject
      writePlugin(NodePath.join(project, "plugins", "greeter"), { name: "greeter" })
      writePackage(NodePath.join(project, "node_modules", "@acme", "http"), {
        name: "http",
        actions: ["request"],
        packageName: "@acme/http"
      })
      writePackage(NodePath.join(project, "node_modules", "plain-pkg"), { name: "plain", packageName: "plain-pkg" })
      write(NodePath.join(project, "node_modules", "unrelated", "package.json"), JSON.stringify({ name: "unrelated" }))
      const found = yield* discoverIn(project)
      const summary = found.plugins.map((plugin) => [plugin.id, plugin.source, plugin.location]).sort()
      assert.deepStrictEqual(summary, [
        ["acme/greeter", "path", NodePath.join(project, "plugins", "greeter")],
        ["acme/http", "npm", NodePath.join(project, "node_modules", "@acme", "http")],
        ["acme/plain", "npm", NodePath.join(project, "node_modules", "plain-pkg")]
      ])
      assert.deepStrictEqual(found.refused, [])
      assert.strictEqual(found.stages.get("acme/http.request")?.source, "npm")
    })
  )

  it.effect("refuses a plugin with a manifest error without hiding the others", () =>
    Effect.gen(function* () {
      const project = yield* tempProject
      writePlugin(NodePath.join(project, "plugins", "good"), { name: "good" })
      write(
        NodePath.join(project, "plugins", "broken", "plugin.yaml"),
        manifest({ name: "broken" }).replace("version: 1.0.0", "version: one")
      )
      write(NodePath.join(project, "plugins", "not-a-plugin", "README.md"), "nothing here")
      const found = yield* discoverIn(project)
      assert.deepStrictEqual(
        found.plugins.map((plugin) => plugin.id),
        ["acme/good"]
      )
      assert.strictEqual(found.refused.length, 1)
      const refused = found.refused[0]!
      assert.strictEqual(refused.location, NodePath.join(project, "plugins", "broken"))
      assert.strictEqual(refused.error.issues[0]?.path, "version")
      assert.strictEqual(refused.error.issues[0]?.line, 3)
    })
  )

  it.effect("reports two sources of one stage type as a conflict naming both manifest files", () =>
    Effect.gen(function* () {
      const project = yield* tempProject
      writePlugin(NodePath.join(project, "plugins", "http"), { name: "http", actions: ["request"] })
      writePackage(NodePath.join(project, "node_modules", "acme-http"), { name: "http", actions: ["request"], packageName: "acme-http" })
      const found = yield* discoverIn(project)
      assert.strictEqual(found.conflicts.length, 1)
      const conflict = found.conflicts[0]!
      const local = NodePath.join(project, "plugins", "http", "plugin.yaml")
      const installed = NodePath.join(project, "node_modules", "acme-http", "plugin.yaml")
      assert.deepStrictEqual([...conflict.sources].sort(), [installed, local].sort())
      assert.include(conflict.message, local)
      assert.include(conflict.message, installed)
      assert.isFalse(found.stages.has("acme/http.request"))
    })
  )

  it.effect("lets plugins.prefer in switchyard.yaml pick the winner and reports the loser as shadowed", () =>
    Effect.gen(function* () {
      const project = yield* tempProject
      writePlugin(NodePath.join(project, "plugins", "http"), { name: "http", actions: ["request"] })
      writePackage(NodePath.join(project, "node_modules", "acme-http"), { name: "http", actions: ["request"], packageName: "acme-http" })
      write(
        NodePath.join(project, "switchyard.yaml"),
        ["plugins:", "  prefer:", '    "acme/http.request": ./node_modules/acme-http'].join("\n")
      )
      const found = yield* discoverIn(project)
      assert.deepStrictEqual(found.conflicts, [])
      assert.strictEqual(found.stages.get("acme/http.request")?.source, "npm")
      assert.deepStrictEqual(found.shadowed, [
        {
          stageType: "acme/http.request",
          winner: NodePath.join(project, "node_modules", "acme-http", "plugin.yaml"),
          loser: NodePath.join(project, "plugins", "http", "plugin.yaml")
        }
      ])
    })
  )

  it.effect("keeps the conflict when plugins.prefer names a plugin id that every provider shares", () =>
    Effect.gen(function* () {
      const project = yield* tempProject
      writePlugin(NodePath.join(project, "plugins", "a"), { name: "first", actions: ["ingest"] })
      writePlugin(NodePath.join(project, "extra", "b"), { name: "first", actions: ["ingest"] })
      const paths = [NodePath.join(project, "plugins"), NodePath.join(project, "extra")]
      const byId = yield* discoverPlugins({
        projectDir: project,
        config: { paths, prefer: new Map([["acme/first.ingest", "acme/first"]]) }
      })
      assert.deepStrictEqual(
        byId.conflicts.map((conflict) => conflict.stageType),
        ["acme/first.ingest"]
      )
      const byFolder = yield* discoverPlugins({
        projectDir: project,
        config: { paths, prefer: new Map([["acme/first.ingest", NodePath.join(project, "extra", "b")]]) }
      })
      assert.deepStrictEqual(byFolder.conflicts, [])
      assert.strictEqual(byFolder.stages.get("acme/first.ingest")?.location, NodePath.join(project, "extra", "b"))
    })
  )

  it.effect("lets core stage types answer to their short names", () =>
    Effect.gen(function* () {
      const project = yield* tempProject
      writePlugin(NodePath.join(project, "plugins", "core"), { name: "core", namespace: "core", actions: ["ingest", "export"] })
      writePlugin(NodePath.join(project, "plugins", "other"), { name: "other", namespace: "acme", actions: ["ingest2"] })
      const found = yield* discoverIn(project)
      assert.deepStrictEqual([...found.aliases].sort(), [
        ["export", "core/core.export"],
        ["ingest", "core/core.ingest"]
      ])
    })
  )

  it.effect("honours SWITCHYARD_PLUGINS_PATH, switchyard.yaml paths and the user-global folder", () =>
    Effect.gen(function* () {
      const project = yield* tempProject
      writePlugin(NodePath.join(project, "from-env-a", "one"), { name: "one" })
      writePlugin(NodePath.join(project, "from-env-b"), { name: "two" })
      writePlugin(NodePath.join(project, "from-yaml", "three"), { name: "three" })
      writePlugin(NodePath.join(project, "xdg", "switchyard", "plugins", "four"), { name: "four" })
      write(NodePath.join(project, "switchyard.yaml"), ["plugins:", "  paths:", "    - ./from-yaml"].join("\n"))
      const envPath = [NodePath.join(project, "from-env-a"), NodePath.join(project, "from-env-b")].join(NodePath.delimiter)
      const found = yield* discoverIn(project, { SWITCHYARD_PLUGINS_PATH: envPath })
      assert.deepStrictEqual(found.plugins.map((plugin) => plugin.id).sort(), ["acme/four", "acme/one", "acme/three", "acme/two"])
      const config = yield* loadPluginsConfig({ projectDir: project }).pipe(
        withEnv({ SWITCHYARD_PLUGINS_PATH: envPath, XDG_DATA_HOME: NodePath.join(project, "xdg") })
      )
      assert.deepStrictEqual(config.paths, [
        NodePath.join(project, "plugins"),
        NodePath.join(project, "from-yaml"),
        NodePath.join(project, "from-env-a"),
        NodePath.join(project, "from-env-b"),
        NodePath.join(project, "xdg", "switchyard", "plugins")
      ])
    })
  )

  it.effect("names file, line and column of a malformed switchyard.yaml", () =>
    Effect.gen(function* () {
      const project = yield* tempProject
      write(NodePath.join(project, "switchyard.yaml"), ["name: demo", "plugins:", "  paths: ./plugins"].join("\n"))
      const error = yield* Effect.flip(loadPluginsConfig({ projectDir: project }).pipe(withEnv({})))
      assert.strictEqual(error._tag, "PluginsConfigError")
      if (error._tag !== "PluginsConfigError") return
      assert.strictEqual(error.file, NodePath.join(project, "switchyard.yaml"))
      assert.deepStrictEqual([error.line, error.column, error.path], [3, 10, "plugins.paths"])
      assert.include(error.message, "expected a list of folders")
    })
  )

  it.live("discovers 1,000 plugin folders", () =>
    Effect.gen(function* () {
      const project = yield* tempProject
      for (let i = 0; i < 1000; i++) writePlugin(NodePath.join(project, "plugins", `p${i}`), { name: `p${i}`, actions: ["a", "b"] })
      const started = yield* Clock.currentTimeMillis
      const found = yield* discoverIn(project)
      const elapsed = (yield* Clock.currentTimeMillis) - started
      yield* Effect.sync(() => console.log(`discovered ${found.plugins.length} plugin folders in ${elapsed} ms`))
      assert.strictEqual(found.plugins.length, 1000)
      assert.strictEqual(found.stages.size, 2000)
      assert.deepStrictEqual(found.refused, [])
      assert.deepStrictEqual(found.conflicts, [])
    })
  )
})

describe("switchyard plugin commands", () => {
  it.live("validate exits 0 for a valid manifest and 2 with positioned errors for an invalid one", () =>
    Effect.gen(function* () {
      const project = yield* tempProject
      writePlugin(NodePath.join(project, "good"), { name: "good" })
      write(NodePath.join(project, "good", "index.js"), actionsModule(["run"]))
      const bad = NodePath.join(project, "bad", "plugin.yaml")
      write(bad, manifest({ name: "bad" }).replace("runtime: process", "runtime: proces"))
      const valid = yield* runCli({ label: "validate-good", args: ["plugin", "validate", NodePath.join(project, "good")] })
      assert.strictEqual(valid.code, 0, valid.stderr)
      assert.include(valid.stdout, "valid plugin acme/good 1.0.0")
      const invalid = yield* runCli({ label: "validate-bad", args: ["plugin", "validate", bad] })
      assert.strictEqual(invalid.code, 2, invalid.stderr)
      assert.include(invalid.stderr, `${bad}:5:10: runtime:`)
    })
  )

  it.live("init scaffolds a process plugin that validates", () =>
    Effect.gen(function* () {
      const project = yield* tempProject
      const target = NodePath.join(project, "my-plugin")
      const created = yield* runCli({ label: "init", args: ["plugin", "init", target] })
      assert.strictEqual(created.code, 0, created.stderr)
      // Validation imports the entry module, which needs the plugin's dependencies installed.
      const uninstalled = yield* runCli({ label: "validate-init-uninstalled", args: ["plugin", "validate", target] })
      assert.strictEqual(uninstalled.code, 2, uninstalled.stderr)
      assert.include(uninstalled.stderr, `${target}/plugin.yaml:7:8: entry: expected a module that imports, found PluginLoadError:`)
      assert.include(uninstalled.stderr, "Cannot find package 'effect'")
      mkdirSync(NodePath.join(target, "node_modules"))
      symlinkSync(NodePath.join(repoRoot, "node_modules", "effect"), NodePath.join(target, "node_modules", "effect"))
      mkdirSync(NodePath.join(target, "node_modules", "@switchyard"))
      symlinkSync(NodePath.join(repoRoot, "sdk"), NodePath.join(target, "node_modules", "@switchyard", "sdk"))
      const valid = yield* runCli({ label: "validate-init", args: ["plugin", "validate", target] })
      assert.strictEqual(valid.code, 0, valid.stderr)
      assert.include(valid.stdout, "local/my-plugin.greet")
      const again = yield* runCli({ label: "init-again", args: ["plugin", "init", target] })
      assert.strictEqual(again.code, 1)
    })
  )
})

describe("plugin inspect warnings", () => {
  it.effect("warns about any network and read-write mounts, and nothing for narrow ones", () =>
    Effect.gen(function* () {
      const base = manifest({ name: "wide" })
      const wide = yield* loadManifest({
        file: "/srv/plugins/wide/plugin.yaml",
        text: `${base}capabilities:\n  network: true\n  mounts:\n    - { path: data, mode: rw }\n    - { path: docs, mode: ro }\n  secrets: [API_KEY]\n`
      })
      assert.deepStrictEqual(broadPermissionWarnings(wide), ["network: true grants access to any host", "mount data is read-write"])
      const narrow = yield* loadManifest({
        file: "/srv/plugins/narrow/plugin.yaml",
        text: `${base}capabilities:\n  network: false\n  secrets: [API_KEY]\n`
      })
      assert.deepStrictEqual(broadPermissionWarnings(narrow), [])
    })
  )
})
