/**
 * Plugin discovery: finds plugin folders on the configured paths (every
 * immediate subfolder holding a `plugin.yaml`, and the path itself if it holds
 * one) and npm packages under the project's `node_modules` (scoped ones too)
 * whose `package.json` declares `"switchyard": { "plugin": "./plugin.yaml" }`,
 * loads every manifest concurrently, and decides which source provides each
 * stage type. A manifest that fails to load refuses only its own plugin. Two
 * sources of one stage type are a `StageConflictError` naming both, unless
 * `prefer` picks the winner (the others are then reported as shadowed).
 * Stage types of the `core` namespace also answer to their action name.
 */
import * as NodePath from "node:path"
import { Effect, Schema } from "effect"
import { pluginId } from "@switchyard/schemas/PluginManifest"
import { coreAliases } from "../registry/index.ts"
import { hasManifest, listFolders, manifestFileName, readPackagePlugin } from "./internal/discoveryFs.ts"
import { ManifestError, ManifestIssue } from "./ManifestError.ts"
import { loadManifestFile } from "./ManifestLoader.ts"
import type { LoadedManifest } from "./ManifestLoader.ts"
import { loadPluginsConfig } from "./PluginsConfig.ts"
import type { PluginsConfig } from "./PluginsConfig.ts"

/** Where a plugin came from: a folder on the plugin paths, or an npm package. */
export type PluginSource = "path" | "npm"

/** A plugin whose manifest loaded. */
export interface DiscoveredPlugin {
  /** `namespace/name`. */
  readonly id: string
  readonly version: string
  readonly source: PluginSource
  /** The plugin folder (for npm, the package folder). */
  readonly location: string
  readonly manifest: LoadedManifest
}

/** A plugin whose manifest (or package.json) was refused. */
export interface RefusedPlugin {
  readonly source: PluginSource
  readonly location: string
  readonly error: ManifestError
}

/** A stage type one source won over another because of `prefer`. */
export interface ShadowedStage {
  readonly stageType: string
  /** Manifest file of the winning plugin. */
  readonly winner: string
  /** Manifest file of the losing plugin. */
  readonly loser: string
}

/** Two or more sources provide one stage type and nothing says which wins. */
export class StageConflictError extends Schema.TaggedError<StageConflictError>()("StageConflictError", {
  stageType: Schema.String,
  /** Manifest files of every plugin providing the stage type, in discovery order. */
  sources: Schema.Array(Schema.String)
}) {
  get isRetryable(): boolean {
    return false
  }
  override get message(): string {
    return `stage type ${this.stageType} is provided by ${this.sources.join(" and ")}; choose one with plugins.prefer in switchyard.yaml`
  }
}

/** A plugin path exists but could not be read. */
export class DiscoveryError extends Schema.TaggedError<DiscoveryError>()("DiscoveryError", {
  path: Schema.String,
  /** The system error code, e.g. `EACCES`. */
  code: Schema.String
}) {
  get isRetryable(): boolean {
    return false
  }
  override get message(): string {
    return `cannot read plugin folder ${this.path} (${this.code})`
  }
}

/** Everything discovery found. */
export interface Discovered {
  readonly plugins: ReadonlyArray<DiscoveredPlugin>
  readonly refused: ReadonlyArray<RefusedPlugin>
  readonly conflicts: ReadonlyArray<StageConflictError>
  readonly shadowed: ReadonlyArray<ShadowedStage>
  /** Stage type → the plugin that provides it, for every stage type without an unresolved conflict. */
  readonly stages: ReadonlyMap<string, DiscoveredPlugin>
  /** Short name → full stage type, for the stage types of the `core` namespace. */
  readonly aliases: ReadonlyMap<string, string>
}

/** What `discoverPlugins` takes. */
export interface DiscoverOptions {
  readonly projectDir: string
  readonly config: PluginsConfig
  /** Files read at once. @default 64 */
  readonly concurrency?: number
}

interface Candidate {
  readonly source: PluginSource
  readonly location: string
  readonly file: string
}

type Found = { readonly _tag: "Candidate"; readonly candidate: Candidate } | { readonly _tag: "Refused"; readonly refused: RefusedPlugin }

const folderCandidates = (dir: string, concurrency: number) =>
  Effect.gen(function* () {
    const listing = yield* listFolders(dir)
    if (listing._tag === "Missing") return []
    if (listing._tag === "Unreadable") return yield* new DiscoveryError({ path: dir, code: listing.reason })
    const folders = [dir, ...listing.names.map((name) => NodePath.join(dir, name))]
    const present = yield* Effect.forEach(folders, hasManifest, { concurrency })
    return folders
      .filter((_, index) => present[index])
      .map((location): Found => ({
        _tag: "Candidate",
        candidate: { source: "path", location, file: NodePath.join(location, manifestFileName) }
      }))
  })

const packageCandidates = (projectDir: string, concurrency: number) =>
  Effect.gen(function* () {
    const root = NodePath.join(projectDir, "node_modules")
    const top = yield* listFolders(root)
    if (top._tag !== "Listed") return []
    const scoped = yield* Effect.forEach(
      top.names.filter((name) => name.startsWith("@")),
      (scope) =>
        listFolders(NodePath.join(root, scope)).pipe(
          Effect.map((listing) => (listing._tag === "Listed" ? listing.names.map((name) => NodePath.join(root, scope, name)) : []))
        ),
      { concurrency }
    )
    const packages = [...top.names.filter((name) => !name.startsWith("@")).map((name) => NodePath.join(root, name)), ...scoped.flat()]
    const read = yield* Effect.forEach(packages, readPackagePlugin, { concurrency })
    return read.flatMap((plugin, index): Array<Found> => {
      const location = packages[index]!
      if (plugin._tag === "None") return []
      if (plugin._tag === "Plugin") return [{ _tag: "Candidate", candidate: { source: "npm", location, file: plugin.manifest } }]
      const issue = new ManifestIssue({
        file: plugin.file,
        line: 1,
        column: 1,
        path: "switchyard",
        message: `expected ${plugin.expected}, found ${plugin.found}`
      })
      return [{ _tag: "Refused", refused: { source: "npm", location, error: new ManifestError({ file: plugin.file, issues: [issue] }) } }]
    })
  })

const matchesPreference = (plugin: DiscoveredPlugin, preferred: string): boolean =>
  plugin.id === preferred ||
  (NodePath.isAbsolute(preferred) &&
    (NodePath.resolve(preferred) === plugin.manifest.file || NodePath.resolve(preferred) === plugin.location))

const resolveStages = (plugins: ReadonlyArray<DiscoveredPlugin>, prefer: ReadonlyMap<string, string>) => {
  const providers = new Map<string, Array<DiscoveredPlugin>>()
  for (const plugin of plugins) {
    for (const stage of plugin.manifest.stages) {
      const list = providers.get(stage.type)
      if (list === undefined) providers.set(stage.type, [plugin])
      else list.push(plugin)
    }
  }
  const stages = new Map<string, DiscoveredPlugin>()
  const conflicts: Array<StageConflictError> = []
  const shadowed: Array<ShadowedStage> = []
  for (const [stageType, list] of providers) {
    if (list.length === 1) {
      stages.set(stageType, list[0]!)
      continue
    }
    const preferred = prefer.get(stageType)
    // A preference must single out one provider: a plugin id shared by every copy of one plugin does not.
    const preferredMatches = preferred === undefined ? [] : list.filter((plugin) => matchesPreference(plugin, preferred))
    const winner = preferredMatches.length === 1 ? preferredMatches[0] : undefined
    if (winner === undefined) {
      conflicts.push(new StageConflictError({ stageType, sources: list.map((plugin) => plugin.manifest.file) }))
      continue
    }
    stages.set(stageType, winner)
    for (const loser of list) {
      if (loser !== winner) shadowed.push({ stageType, winner: winner.manifest.file, loser: loser.manifest.file })
    }
  }
  return { stages, conflicts, shadowed }
}

/** Finds and loads every plugin on the configured paths and in `<projectDir>/node_modules`. */
export const discoverPlugins = Effect.fn("Discovery.discoverPlugins")(function* (options: DiscoverOptions) {
  const concurrency = options.concurrency ?? 64
  const projectDir = NodePath.resolve(options.projectDir)
  const fromPaths = yield* Effect.forEach(options.config.paths, (dir) => folderCandidates(NodePath.resolve(projectDir, dir), concurrency), {
    concurrency
  })
  const fromPackages = yield* packageCandidates(projectDir, concurrency)
  const found = [...fromPaths.flat(), ...fromPackages]
  const seen = new Set<string>()
  const candidates: Array<Candidate> = []
  const refused: Array<RefusedPlugin> = []
  for (const entry of found) {
    if (entry._tag === "Refused") refused.push(entry.refused)
    else if (!seen.has(entry.candidate.file)) {
      seen.add(entry.candidate.file)
      candidates.push(entry.candidate)
    }
  }
  const loaded = yield* Effect.forEach(candidates, (candidate) => Effect.result(loadManifestFile(candidate.file)), { concurrency })
  const plugins: Array<DiscoveredPlugin> = []
  for (const [index, result] of loaded.entries()) {
    const candidate = candidates[index]!
    if (result._tag === "Failure") {
      refused.push({ source: candidate.source, location: candidate.location, error: result.failure })
      continue
    }
    const manifest = result.success
    plugins.push({
      id: pluginId(manifest.manifest),
      version: manifest.manifest.version,
      source: candidate.source,
      location: candidate.location,
      manifest
    })
  }
  const { conflicts, shadowed, stages } = resolveStages(plugins, options.config.prefer)
  return { plugins, refused, conflicts, shadowed, stages, aliases: coreAliases(stages.keys()) } satisfies Discovered
})

/** Reads the plugins configuration of `projectDir` and discovers its plugins. */
export const discoverProjectPlugins = Effect.fn("Discovery.discoverProjectPlugins")(function* (options: { readonly projectDir: string }) {
  const config = yield* loadPluginsConfig(options)
  return yield* discoverPlugins({ projectDir: options.projectDir, config })
})
