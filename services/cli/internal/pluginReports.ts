/**
 * What `switchyard plugin list`, `inspect` and `validate` print: the plugins
 * discovery finds for the current project, one plugin in full, and the
 * verdict on a manifest checked against its entry module. Loaded only when
 * one of these commands runs.
 */
import * as NodePath from "node:path"
import { stat } from "node:fs/promises"
import { Console, Effect } from "effect"
import { discoverProjectPlugins } from "../../plugins/Discovery.ts"
import type { DiscoveredPlugin } from "../../plugins/Discovery.ts"
import { formatManifestIssue } from "../../plugins/ManifestError.ts"
import type { ManifestError } from "../../plugins/ManifestError.ts"
import { checkEntryModule, loadManifestFile } from "../../plugins/ManifestLoader.ts"
import { PluginCommandError, PluginInvalidError, broadPermissionWarnings } from "../PluginCommands.ts"

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

const discover = discoverProjectPlugins({ projectDir: process.cwd() }).pipe(
  Effect.catch((error) =>
    Console.error(error.message).pipe(Effect.andThen(Effect.fail(new PluginCommandError({ command: "discover", subject: process.cwd() }))))
  )
)

const matchesName = (plugin: DiscoveredPlugin, name: string) =>
  plugin.id === name || plugin.manifest.manifest.name === name || plugin.location === NodePath.resolve(name)

/** Prints the plugins found on the plugin paths and in node_modules. */
export const listPlugins = Effect.fnUntraced(function* ({ json }: { readonly json: boolean }) {
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
  for (const entry of found.shadowed) yield* Console.log(`shadowed: ${entry.stageType} from ${entry.loser} (prefer chose ${entry.winner})`)
})

/** Prints a plugin's stages, capabilities, recommended permission and warnings. */
export const inspectPlugin = Effect.fnUntraced(function* (name: string) {
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

// Validation imports the entry module in a child process (see `checkEntryModule`), as the plugin's tasks would.
/** Checks a plugin manifest against its entry module; fails with `PluginInvalidError` when it is invalid. */
export const validatePlugin = Effect.fnUntraced(function* (path: string) {
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
