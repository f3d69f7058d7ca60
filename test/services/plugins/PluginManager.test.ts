import { assert, describe, it } from "@effect/vitest"
import { mkdirSync, mkdtempSync, renameSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import * as NodePath from "node:path"
import { ConfigProvider, Context, Effect, Layer } from "effect"
import * as MemoryBus from "../../../services/bus/MemoryBus.ts"
import { makeNames, Subjects } from "../../../schemas/Subjects.ts"
import { ExecutorConfig, StageCatalog } from "../../../services/executor/index.ts"
import { PluginManager } from "../../../services/plugins/PluginManager.ts"
import { AuditLog } from "../../../services/registry/index.ts"
import type { AuditEntry } from "../../../services/registry/index.ts"
import { eventually } from "../../support/eventually.ts"
import { uniquePrefix } from "../../support/unique.ts"
import { readAudit } from "../registry/RegistrySuite.ts"

/** A fresh project folder, removed when the test's scope closes. */
const tempProject = Effect.acquireRelease(
  Effect.sync(() => mkdtempSync(NodePath.join(tmpdir(), "switchyard-plugin-manager-"))),
  (dir) => Effect.sync(() => rmSync(dir, { recursive: true, force: true }))
)

const write = (file: string, text: string) => {
  mkdirSync(NodePath.dirname(file), { recursive: true })
  writeFileSync(file, text)
}

const manifest = (name: string, extra = "") =>
  [
    `name: ${name}`,
    "namespace: acme",
    "version: 1.0.0",
    "description: A test plugin.",
    "runtime: process",
    "entry: ./index.js",
    "stages:",
    "  - name: run",
    "    description: Does a thing.",
    "    output: none",
    "    count: one",
    extra
  ].join("\n")

/** Writes a plugin folder elsewhere and moves it into place at once, as an installer would. */
const dropPlugin = (project: string, dir: string, text: string, files: Readonly<Record<string, string>> = {}) => {
  const staging = mkdtempSync(NodePath.join(project, ".staging-"))
  write(NodePath.join(staging, "plugin.yaml"), text)
  write(NodePath.join(staging, "index.js"), "export {}\n")
  for (const [name, content] of Object.entries(files)) write(NodePath.join(staging, name), content)
  mkdirSync(NodePath.dirname(dir), { recursive: true })
  renameSync(staging, dir)
}

/** A plugin manager for `project` on the in-memory bus, with its catalog and the executor's audit entries. */
const startManager = (project: string) =>
  Effect.gen(function* () {
    const names = makeNames(uniquePrefix("plugins"))
    const catalog = StageCatalog.make([])
    const context = yield* Layer.build(
      PluginManager.layer({ projectDir: project, interval: "50 millis" }).pipe(
        Layer.provide(Layer.succeed(StageCatalog, catalog)),
        Layer.provide(AuditLog.layerFor("executor")),
        Layer.provide(ExecutorConfig.layer({ pool: "process", executorId: "replica-1" }))
      )
    ).pipe(Effect.provideService(Subjects, names))
    const audit = yield* readAudit(names, "executor").pipe(Effect.provideService(Subjects, names))
    const types = () => catalog.definitions().map((definition) => definition.metadata.type)
    const entries = (event: AuditEntry["event"]) => audit.items.pipe(Effect.map((all) => all.filter((entry) => entry.event === event)))
    return { manager: Context.get(context, PluginManager), types, entries }
  })

const isolated = (project: string) =>
  Effect.provideService(ConfigProvider.ConfigProvider, ConfigProvider.fromEnvRecord({ XDG_DATA_HOME: NodePath.join(project, "xdg") }))

describe("plugin manager", () => {
  it.live("loads the plugin folders and npm packages it finds at start and audits every load and refusal", () =>
    Effect.gen(function* () {
      const project = yield* tempProject
      dropPlugin(project, NodePath.join(project, "plugins", "greeter"), manifest("greeter"))
      dropPlugin(project, NodePath.join(project, "plugins", "broken"), manifest("broken", "surprise: true"))
      dropPlugin(
        project,
        NodePath.join(project, "plugins", "escaper"),
        manifest("escaper").replace("entry: ./index.js", "entry: ../escape.js")
      )
      dropPlugin(project, NodePath.join(project, "node_modules", "@acme", "mailer"), manifest("mailer"), {
        "package.json": JSON.stringify({ name: "@acme/mailer", switchyard: { plugin: "./plugin.yaml" } })
      })
      const { entries, manager, types } = yield* startManager(project)

      assert.deepStrictEqual(types().sort(), ["acme/greeter.run", "acme/mailer.run"])
      assert.deepStrictEqual((yield* manager.served).map((entry) => entry.plugin.id).sort(), ["acme/greeter", "acme/mailer"])
      const loaded = yield* eventually(
        "two plugin-loaded entries",
        entries("plugin-loaded").pipe(Effect.map((found) => (found.length === 2 ? found : false)))
      )
      assert.deepStrictEqual(
        loaded
          .map((entry) => [entry.service, entry.plugin, entry.source, entry.location, entry.types, entry.pool, entry.executorId])
          .sort(),
        [
          ["executor", "acme/greeter", "path", NodePath.join(project, "plugins", "greeter"), ["acme/greeter.run"], "process", "replica-1"],
          [
            "executor",
            "acme/mailer",
            "npm",
            NodePath.join(project, "node_modules", "@acme", "mailer"),
            ["acme/mailer.run"],
            "process",
            "replica-1"
          ]
        ]
      )
      const refused = yield* eventually(
        "two plugin-refused entries",
        entries("plugin-refused").pipe(Effect.map((found) => (found.length === 2 ? found : false)))
      )
      const byLocation = new Map(refused.map((entry) => [entry.location, entry.reason ?? ""]))
      // A manifest that does not validate, and one that fails a security check.
      assert.include(
        byLocation.get(NodePath.join(project, "plugins", "broken")),
        `${NodePath.join(project, "plugins", "broken", "plugin.yaml")}:12:1: surprise: unknown field "surprise"`
      )
      assert.include(byLocation.get(NodePath.join(project, "plugins", "escaper")), "entry: expected a module path inside the plugin folder")

      // A plugin that stays broken is not reported again on the next scan.
      yield* manager.rescan
      assert.strictEqual((yield* entries("plugin-refused")).length, 2)
    }).pipe(Effect.scoped, isolated(NodePath.join(tmpdir(), "switchyard-no-xdg")), Effect.provide(MemoryBus.layer))
  )

  it.live("loads a refused plugin once its manifest is fixed", () =>
    Effect.gen(function* () {
      const project = yield* tempProject
      const broken = NodePath.join(project, "plugins", "broken")
      dropPlugin(project, broken, manifest("broken", "surprise: true"))
      const { entries, types } = yield* startManager(project)
      assert.deepStrictEqual(types(), [])
      yield* eventually("a plugin-refused entry", entries("plugin-refused").pipe(Effect.map((found) => found.length === 1)))

      writeFileSync(NodePath.join(broken, "plugin.yaml"), manifest("broken"))
      yield* eventually("acme/broken.run served", () => types().includes("acme/broken.run"))
      yield* eventually(
        "a plugin-loaded entry for acme/broken",
        entries("plugin-loaded").pipe(Effect.map((found) => found.some((entry) => entry.plugin === "acme/broken")))
      )
    }).pipe(Effect.scoped, isolated(NodePath.join(tmpdir(), "switchyard-no-xdg")), Effect.provide(MemoryBus.layer))
  )

  it.live("stops serving a plugin whose folder disappears and loads a plugin folder that appears", () =>
    Effect.gen(function* () {
      const project = yield* tempProject
      const greeter = NodePath.join(project, "plugins", "greeter")
      dropPlugin(project, greeter, manifest("greeter"))
      const { entries, types } = yield* startManager(project)
      assert.deepStrictEqual(types(), ["acme/greeter.run"])

      rmSync(greeter, { recursive: true, force: true })
      yield* eventually("acme/greeter.run no longer served", () => types().length === 0)
      const [unloaded] = yield* eventually(
        "a plugin-unloaded entry",
        entries("plugin-unloaded").pipe(Effect.map((found) => (found.length > 0 ? found : false)))
      )
      assert.deepStrictEqual([unloaded!.plugin, unloaded!.types], ["acme/greeter", ["acme/greeter.run"]])
      assert.include(unloaded!.reason ?? "", "disappeared")

      dropPlugin(project, NodePath.join(project, "plugins", "waver"), manifest("waver"))
      yield* eventually("acme/waver.run served", () => types().includes("acme/waver.run"))
      yield* eventually(
        "a plugin-loaded entry for acme/waver",
        entries("plugin-loaded").pipe(Effect.map((found) => found.some((entry) => entry.plugin === "acme/waver")))
      )
    }).pipe(Effect.scoped, isolated(NodePath.join(tmpdir(), "switchyard-no-xdg")), Effect.provide(MemoryBus.layer))
  )
})
