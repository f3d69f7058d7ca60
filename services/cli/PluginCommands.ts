/**
 * `switchyard plugin ...`: `list` the plugins discovery finds for the
 * current project, `inspect` one, `validate` a manifest (exit 2 on errors),
 * and `init` a new process plugin folder.
 */
import * as NodePath from "node:path"
import { mkdir, stat, writeFile } from "node:fs/promises"
import { Console, Effect, Runtime, Schema } from "effect"
import { Argument, Command, Flag } from "effect/cli"
import { PluginToken } from "@switchyard/schemas/PluginManifest"
import { discoverProjectPlugins } from "../plugins/Discovery.ts"
import type { DiscoveredPlugin } from "../plugins/Discovery.ts"
import { formatManifestIssue } from "../plugins/ManifestError.ts"
import type { ManifestError } from "../plugins/ManifestError.ts"
import { checkEntryModule, loadManifestFile } from "../plugins/ManifestLoader.ts"
import type { LoadedManifest } from "../plugins/ManifestLoader.ts"

// The files `plugin init` writes: a process plugin with one action, its
// manifest, a package.json declaring it, and a test running the action without NATS.
const scaffoldFiles = (name: string): ReadonlyArray<readonly [string, string]> => [
  [
    "plugin.yaml",
    `# yaml-language-server: $schema=./node_modules/@switchyard/schemas/json/plugin.schema.json
name: ${name}
namespace: local
version: 0.1.0
description: Greets someone from a child process.
runtime: process
entry: ./actions.ts
permission: trusted
stages:
  - name: greet
    description: Returns a greeting for the given name.
    stateKey: greeting
    output: set
    count: one
    timeout: 30s
`
  ],
  [
    "actions.ts",
    `/** The actions of the ${name} plugin; each exported defineAction value is one stage. */
import { Schema } from "effect"
import { defineAction } from "@switchyard/sdk"

/** Returns a greeting for the given name. */
export const greet = defineAction({
  name: "greet",
  description: "Returns a greeting for the given name.",
  inputs: Schema.Struct({ name: Schema.String }),
  outputs: Schema.String,
  run: ({ name }, ctx) => {
    ctx.log.info("greeting", { name })
    return \`Hello, \${name}!\`
  }
})
`
  ],
  [
    "actions.test.ts",
    `import assert from "node:assert/strict"
import { test } from "node:test"
import { runAction } from "@switchyard/sdk"
import { greet } from "./actions.ts"

test("greet returns a greeting for the given name", async () => {
  const result = await runAction(greet, { name: "Ada" })
  assert.deepEqual(result.status === "succeeded" ? result.output : result, "Hello, Ada!")
})

test("greet refuses an input without a name", async () => {
  const result = await runAction(greet, {})
  assert.equal(result.status, "failed")
})
`
  ],
  [
    "package.json",
    `${JSON.stringify(
      {
        name,
        version: "0.1.0",
        private: true,
        type: "module",
        switchyard: { plugin: "./plugin.yaml" },
        scripts: { test: "node --test actions.test.ts" },
        dependencies: { "@switchyard/sdk": "^0.1.0", effect: "^4.1.0" }
      },
      null,
      2
    )}\n`
  ]
]

/** A plugin manifest failed validation: exit code 2. */
export class PluginInvalidError extends Schema.TaggedError<PluginInvalidError>()("PluginInvalidError", {
  file: Schema.String
}) {
  override readonly [Runtime.errorExitCode] = 2
  override readonly [Runtime.errorReported] = false
}

/** A plugin command could not do its work (already reported on stderr): exit code 1. */
export class PluginCommandError extends Schema.TaggedError<PluginCommandError>()("PluginCommandError", {
  command: Schema.String,
  subject: Schema.String
}) {
  override readonly [Runtime.errorExitCode] = 1
  override readonly [Runtime.errorReported] = false
}

const firstIssue = (error: ManifestError): string => {
  const issue = error.issues[0]
  return issue === undefined ? `${error.file}: refused` : formatManifestIssue(issue)
}

const table = (header: ReadonlyArray<string>, rows: ReadonlyArray<ReadonlyArray<string>>): string => {
  const widths = header.map((cell, i) => Math.max(cell.length, ...rows.map((row) => row[i]!.length)))
  const line = (cells: ReadonlyArray<string>) =>
    cells
      .map((cell, i) => (i < cells.length - 1 ? cell.padEnd(widths[i]!) : cell))
      .join("  ")
      .trimEnd()
  return [line(header), ...rows.map(line)].join("\n")
}

/** Warnings for capabilities broader than most plugins need. */
export const broadPermissionWarnings = (loaded: LoadedManifest): ReadonlyArray<string> => {
  const capabilities = loaded.manifest.capabilities
  if (capabilities === undefined) return []
  return [
    ...(capabilities.network === true ? ["network: true grants access to any host"] : []),
    ...(capabilities.mounts ?? []).filter((mount) => mount.mode === "rw").map((mount) => `mount ${mount.path} is read-write`),
    ...(capabilities.secrets ?? []).filter((key) => key.includes("*")).map((key) => `secret ${JSON.stringify(key)} is a wildcard`),
    ...(capabilities.env ?? []).filter((key) => key.includes("*")).map((key) => `environment variable ${JSON.stringify(key)} is a wildcard`)
  ]
}

const discover = discoverProjectPlugins({ projectDir: process.cwd() }).pipe(
  Effect.catch((error) =>
    Console.error(error.message).pipe(Effect.andThen(Effect.fail(new PluginCommandError({ command: "discover", subject: process.cwd() }))))
  )
)

const list = Command.make(
  "list",
  { json: Flag.Boolean("json").pipe(Flag.withDescription("Print JSON"), Flag.withDefault(false)) },
  Effect.fn(function* ({ json }) {
    const found = yield* discover
    if (json) {
      return yield* Console.log(
        JSON.stringify(
          {
            plugins: found.plugins.map((plugin) => ({
              id: plugin.id,
              version: plugin.version,
              source: plugin.source,
              location: plugin.location,
              runtime: plugin.manifest.manifest.runtime,
              stages: plugin.manifest.stages.map((stage) => stage.type)
            })),
            refused: found.refused.map((refused) => ({
              source: refused.source,
              location: refused.location,
              error: firstIssue(refused.error),
              issues: refused.error.issues.map(formatManifestIssue)
            })),
            conflicts: found.conflicts.map((conflict) => ({ stageType: conflict.stageType, sources: conflict.sources })),
            shadowed: found.shadowed,
            aliases: Object.fromEntries(found.aliases)
          },
          null,
          2
        )
      )
    }
    const rows = found.plugins.map((plugin) => [
      plugin.id,
      plugin.version,
      plugin.source,
      plugin.manifest.manifest.runtime,
      plugin.manifest.stages.map((stage) => stage.type).join(", ")
    ])
    yield* Console.log(rows.length === 0 ? "no plugins found" : table(["NAME", "VERSION", "SOURCE", "RUNTIME", "STAGES"], rows))
    for (const refused of found.refused) yield* Console.log(`refused ${refused.location} (${refused.source}): ${firstIssue(refused.error)}`)
    for (const conflict of found.conflicts) yield* Console.log(`conflict: ${conflict.message}`)
    for (const entry of found.shadowed)
      yield* Console.log(`shadowed: ${entry.stageType} from ${entry.loser} (prefer chose ${entry.winner})`)
  })
).pipe(Command.withDescription("List the plugins found on the plugin paths and in node_modules"))

const matchesName = (plugin: DiscoveredPlugin, name: string) =>
  plugin.id === name || plugin.manifest.manifest.name === name || plugin.location === NodePath.resolve(name)

const inspect = Command.make(
  "inspect",
  { name: Argument.String("name").pipe(Argument.withDescription("Plugin id (namespace/name), name or folder")) },
  Effect.fn(function* ({ name }) {
    const found = yield* discover
    const matches = found.plugins.filter((plugin) => matchesName(plugin, name))
    const plugin = matches[0]
    if (plugin === undefined || matches.length > 1) {
      yield* Console.error(
        plugin === undefined
          ? `no plugin named ${name}; \`switchyard plugin list\` shows the plugins found`
          : `${name} names several plugins (${matches.map((match) => match.location).join(", ")}); use the id namespace/name`
      )
      return yield* new PluginCommandError({ command: "inspect", subject: name })
    }
    const { manifest, stages } = plugin.manifest
    const capabilities = manifest.capabilities
    const lines = [
      `${plugin.id} ${plugin.version}`,
      `  ${manifest.description}`,
      `source:      ${plugin.source} (${plugin.location})`,
      `runtime:     ${manifest.runtime}${manifest.entry === undefined ? "" : ` entry ${manifest.entry}`}${manifest.image === undefined ? "" : ` image ${manifest.image}`}`,
      `permission:  ${manifest.permission ?? "trusted"} (recommended)`,
      "capabilities:",
      `  network:   ${capabilities?.network === true ? "yes" : "no"}`,
      `  mounts:    ${(capabilities?.mounts ?? []).map((mount) => `${mount.path} (${mount.mode})`).join(", ") || "none"}`,
      `  secrets:   ${(capabilities?.secrets ?? []).join(", ") || "none"}`,
      `  env:       ${(capabilities?.env ?? []).join(", ") || "none"}`,
      "stages:",
      ...stages.flatMap((stage) => [
        `  ${stage.type} ${stage.version}`,
        `    ${stage.description}`,
        `    output ${stage.output}, count ${stage.count}, stateKey ${JSON.stringify(stage.stateKey)}, timeout ${stage.timeoutMs} ms`,
        ...(stage.dependencies.length === 0 ? [] : [`    depends on ${stage.dependencies.join(", ")}`])
      ]),
      ...broadPermissionWarnings(plugin.manifest).map((warning) => `warning: ${warning}`)
    ]
    yield* Console.log(lines.join("\n"))
  })
).pipe(Command.withDescription("Show a plugin's stages, capabilities, recommended permission and warnings"))

// Validation imports the entry module in a child process (see `checkEntryModule`), as the plugin's tasks would.
const validate = Command.make(
  "validate",
  { path: Argument.String("path").pipe(Argument.withDescription("A plugin.yaml or a folder holding one")) },
  Effect.fn(function* ({ path }) {
    const isDir = yield* Effect.tryPromise({ try: () => stat(path), catch: () => false }).pipe(
      Effect.map((stats) => stats.isDirectory()),
      Effect.catch(() => Effect.succeed(false))
    )
    const file = isDir ? NodePath.join(path, "plugin.yaml") : path
    const loaded = yield* loadManifestFile(file).pipe(
      Effect.flatMap(checkEntryModule),
      Effect.catch((error) =>
        Console.error(error.issues.map(formatManifestIssue).join("\n")).pipe(Effect.andThen(Effect.fail(new PluginInvalidError({ file }))))
      )
    )
    const types = loaded.stages.map((stage) => stage.type).join(", ")
    yield* Console.log(`${file}: valid plugin ${loaded.manifest.namespace}/${loaded.manifest.name} ${loaded.manifest.version} (${types})`)
    for (const warning of broadPermissionWarnings(loaded)) yield* Console.log(`warning: ${warning}`)
  })
).pipe(Command.withDescription("Check a plugin manifest against its entry module (exit 0 valid, 2 invalid)"))

const init = Command.make(
  "init",
  { name: Argument.String("name").pipe(Argument.withDescription("The plugin name; also the new folder")) },
  Effect.fn(function* ({ name }) {
    const base = NodePath.basename(name)
    if (!Schema.is(PluginToken)(base)) {
      yield* Console.error(`${base}: expected a plugin name of lower case letters, digits, _ and -, starting with a letter or digit`)
      return yield* new PluginCommandError({ command: "init", subject: name })
    }
    const dir = NodePath.resolve(name)
    yield* Effect.tryPromise({ try: () => mkdir(dir), catch: (cause) => cause }).pipe(
      Effect.catch((cause) =>
        Console.error(`${dir}: cannot create the plugin folder (${cause instanceof Error ? cause.message : String(cause)})`).pipe(
          Effect.andThen(Effect.fail(new PluginCommandError({ command: "init", subject: name })))
        )
      )
    )
    yield* Effect.forEach(
      scaffoldFiles(base),
      ([file, text]) =>
        Effect.tryPromise({ try: () => writeFile(NodePath.join(dir, file), text), catch: (cause) => cause }).pipe(
          Effect.catch(() =>
            Console.error(`${NodePath.join(dir, file)}: cannot write`).pipe(
              Effect.andThen(Effect.fail(new PluginCommandError({ command: "init", subject: name })))
            )
          )
        ),
      { discard: true }
    )
    yield* Console.log(`created ${dir}: plugin.yaml, actions.ts, actions.test.ts, package.json`)
  })
).pipe(Command.withDescription("Scaffold a process plugin with one action and its test"))

/** `switchyard plugin ...`. */
export const plugin = Command.make("plugin").pipe(
  Command.withDescription("List, inspect, validate and scaffold plugins"),
  Command.withSubcommands([list, inspect, validate, init])
)
