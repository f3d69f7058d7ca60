/**
 * `switchyard plugin ...`: `list` the plugins discovery finds for the
 * current project, `inspect` one, `validate` a manifest (exit 2 on errors),
 * and `init` a new process plugin folder. The first three run from
 * `internal/pluginReports.ts`, imported when they run.
 */
import * as NodePath from "node:path"
import { mkdir, writeFile } from "node:fs/promises"
import { Console, Effect, Runtime, Schema } from "effect"
import { Argument, Command, Flag } from "effect/cli"
import { PluginToken } from "@switchyard/schemas/PluginManifest"
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

/** Warnings for capabilities broader than most plugins need. */
export const broadPermissionWarnings = (loaded: LoadedManifest): ReadonlyArray<string> => {
  const capabilities = loaded.manifest.capabilities
  if (capabilities === undefined) return []
  return [
    ...(capabilities.network === true ? ["network: true grants access to any host"] : []),
    ...(capabilities.mounts ?? []).filter((mount) => mount.mode === "rw").map((mount) => `mount ${mount.path} is read-write`),
    ...(capabilities.env ?? []).filter((key) => key.includes("*")).map((key) => `environment variable ${JSON.stringify(key)} is a wildcard`)
  ]
}

// Discovery and manifest checks parse YAML and compile JSON Schemas: imported when one of these commands runs.
const reports = Effect.promise(() => import("./internal/pluginReports.ts"))

const list = Command.make(
  "list",
  { json: Flag.Boolean("json").pipe(Flag.withDescription("Print JSON"), Flag.withDefault(false)) },
  Effect.fn(function* ({ json }) {
    const { listPlugins } = yield* reports
    return yield* listPlugins({ json })
  })
).pipe(Command.withDescription("List the plugins found on the plugin paths and in node_modules"))

const inspect = Command.make(
  "inspect",
  { name: Argument.String("name").pipe(Argument.withDescription("Plugin id (namespace/name), name or folder")) },
  Effect.fn(function* ({ name }) {
    const { inspectPlugin } = yield* reports
    return yield* inspectPlugin(name)
  })
).pipe(Command.withDescription("Show a plugin's stages, capabilities, recommended permission and warnings"))

// Validation imports the entry module in a child process (see `checkEntryModule`), as the plugin's tasks would.
const validate = Command.make(
  "validate",
  { path: Argument.String("path").pipe(Argument.withDescription("A plugin.yaml or a folder holding one")) },
  Effect.fn(function* ({ path }) {
    const { validatePlugin } = yield* reports
    return yield* validatePlugin(path)
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
