/**
 * The lifecycle of discovered plugins in an executor: load → validate →
 * register → unload. At start it discovers the project's plugins (plugin
 * folders on the plugin paths, npm packages in `node_modules`), turns each
 * one of its runtime into stage definitions and adds them to the executor's
 * `StageCatalog` (the executor registers whatever the catalog gains). Then
 * it polls the places it loads from every `interval`: a cheap fingerprint
 * of the folders (subfolder names, when each one's manifest or
 * `package.json` last changed, whether each served manifest still exists),
 * and only when that changes a full discovery, so a manifest fixed after a
 * refusal is loaded too. A plugin whose manifest disappeared is
 * removed from the catalog (the executor stops serving and deregisters its
 * stage types); a new valid plugin is loaded and added. Every load, refusal
 * and unload is an audit entry (`plugin-loaded`, `plugin-refused`,
 * `plugin-unloaded` on `audit.<service>`) naming the plugin, where it was
 * found and why. A served plugin whose manifest changes keeps its loaded
 * version until the executor restarts.
 */
import * as NodePath from "node:path"
import { stat } from "node:fs/promises"
import { Config, Context, Duration, Effect, Exit, Layer, Option, Schedule, Scope } from "effect"
import { AuditLog } from "../registry/index.ts"
import type { AuditRecord } from "../registry/index.ts"
import { ExecutorConfig, StageCatalog } from "../executor/index.ts"
import type { Runtime } from "@switchyard/schemas/StageMetadata"
import type { StageDefinition } from "@switchyard/schemas/Stage"
import { discoverPlugins } from "./Discovery.ts"
import type { Discovered, DiscoveredPlugin } from "./Discovery.ts"
import { listFolders, manifestFileName } from "./internal/discoveryFs.ts"
import { recordDiscovery } from "./internal/instruments.ts"
import { loadPluginsConfig } from "./PluginsConfig.ts"
import type { PluginsConfig } from "./PluginsConfig.ts"
import { processStages } from "./ProcessStage.ts"

/** What `PluginManager.layer` takes. */
export interface PluginManagerOptions {
  /** The project whose plugins are served. */
  readonly projectDir: string
  /** Only plugins of this runtime are served. @default "process" */
  readonly runtime?: Runtime
  /** How often the plugin folders are checked for plugins that appeared or disappeared. @default "2 seconds" */
  readonly interval?: Duration.Input
  /** The stage definitions of a plugin, made in a scope of its own closed when it is unloaded. @default processStages */
  readonly stagesOf?: (plugin: DiscoveredPlugin) => Effect.Effect<ReadonlyArray<StageDefinition>, never, Scope.Scope>
}

/** A plugin being served, by manifest file. */
export interface ServedPlugin {
  readonly plugin: DiscoveredPlugin
  readonly types: ReadonlyArray<string>
}

/** The plugin manager service. */
export class PluginManager extends Context.Service<
  PluginManager,
  {
    /** The plugins served now. */
    readonly served: Effect.Effect<ReadonlyArray<ServedPlugin>>
    /** Discovers now and applies what changed (it also runs whenever the folders change). */
    readonly rescan: Effect.Effect<void>
  }
>()("switchyard/plugins/PluginManager") {
  /** Loads the project's plugins into the catalog, then follows their folders while the layer lives. */
  static readonly layer = (options: PluginManagerOptions): Layer.Layer<PluginManager, never, StageCatalog | AuditLog | ExecutorConfig> =>
    Layer.effect(PluginManager, make(options))

  /**
   * Like `layer`, with the interval from `SWITCHYARD_PLUGIN_SCAN_INTERVAL`
   * (@default "2 seconds") unless `options` sets it.
   */
  static readonly layerConfig = (
    options: PluginManagerOptions
  ): Layer.Layer<PluginManager, Config.ConfigError, StageCatalog | AuditLog | ExecutorConfig> =>
    Layer.unwrap(
      Effect.gen(function* () {
        const interval = yield* Config.option(Config.Duration("SWITCHYARD_PLUGIN_SCAN_INTERVAL"))
        return PluginManager.layer(
          Option.isSome(interval) && options.interval === undefined ? { ...options, interval: interval.value } : options
        )
      })
    )
}

const make = (options: PluginManagerOptions) =>
  Effect.gen(function* () {
    const catalog = yield* StageCatalog
    const audit = yield* AuditLog
    const settings = yield* ExecutorConfig
    const projectDir = NodePath.resolve(options.projectDir)
    const runtime = options.runtime ?? "process"
    const stagesOf = options.stagesOf ?? ((plugin: DiscoveredPlugin) => processStages(plugin.manifest))
    const served = new Map<string, ServedPlugin>()
    // Each served plugin's resources (a warm pool's processes) live in a scope of their own.
    const layerScope = yield* Effect.scope
    const scopes = new Map<string, Scope.Closeable>()
    // Refusals audited by the last scan: a plugin that stays broken is reported once, not on every scan.
    let refusedBefore = new Set<string>()
    let lastFingerprint: string | undefined

    const about = { pool: settings.pool, executorId: settings.executorId }
    const describe = (plugin: DiscoveredPlugin) =>
      ({ plugin: plugin.id, stageVersion: plugin.version, source: plugin.source, location: plugin.location }) as const

    const config = yield* loadPluginsConfig({ projectDir }).pipe(
      Effect.catch((error) =>
        Effect.logWarning(`cannot read the plugin configuration; using ./plugins only: ${error.message}`).pipe(
          Effect.as<PluginsConfig>({ paths: [NodePath.join(projectDir, "plugins")], prefer: new Map() })
        )
      )
    )

    /** Audits a refusal unless the previous scan already did; remembers it for the next scan. */
    const refuse = (refusals: Set<string>, entry: Omit<AuditRecord, "event"> & { readonly location: string; readonly reason: string }) =>
      Effect.suspend(() => {
        const key = `${entry.location}\n${entry.reason}`
        refusals.add(key)
        return refusedBefore.has(key) ? Effect.void : audit.record({ ...about, ...entry, event: "plugin-refused" })
      })

    const unload = Effect.fnUntraced(function* (file: string, entry: ServedPlugin) {
      served.delete(file)
      yield* catalog.remove(entry.types)
      const scope = scopes.get(file)
      scopes.delete(file)
      if (scope !== undefined) yield* Scope.close(scope, Exit.void)
      yield* audit.record({
        ...about,
        event: "plugin-unloaded",
        ...describe(entry.plugin),
        types: entry.types,
        reason: `${entry.plugin.manifest.file} disappeared`
      })
    })

    const load = Effect.fnUntraced(function* (plugin: DiscoveredPlugin, discovered: Discovered, refusals: Set<string>) {
      const scope = yield* Scope.fork(layerScope)
      const provided = yield* stagesOf(plugin).pipe(Scope.provide(scope))
      // Nothing this executor can run (another runtime's plugin): not its to load or refuse.
      if (provided.length === 0) return yield* Scope.close(scope, Exit.void)
      const taken = new Set([...served.values()].flatMap((entry) => entry.types))
      const definitions = provided.filter(
        (definition) => discovered.stages.get(definition.metadata.type) === plugin && !taken.has(definition.metadata.type)
      )
      if (definitions.length === 0) {
        const conflicts = discovered.conflicts.filter((conflict) => conflict.sources.includes(plugin.manifest.file))
        const reason =
          conflicts.length > 0
            ? conflicts.map((conflict) => conflict.message).join("\n")
            : `every stage type of ${plugin.manifest.file} is already served by another plugin`
        yield* Scope.close(scope, Exit.void)
        return yield* refuse(refusals, { ...describe(plugin), reason })
      }
      const types = definitions.map((definition) => definition.metadata.type)
      served.set(plugin.manifest.file, { plugin, types })
      scopes.set(plugin.manifest.file, scope)
      yield* catalog.add(definitions)
      yield* audit.record({ ...about, event: "plugin-loaded", ...describe(plugin), types })
    })

    const rescan = Effect.gen(function* () {
      const [took, discovered] = yield* Effect.timed(discoverPlugins({ projectDir, config }))
      yield* recordDiscovery(Duration.toMillis(took))
      const present = new Set(discovered.plugins.map((plugin) => plugin.manifest.file))
      for (const [file, entry] of [...served]) if (!present.has(file)) yield* unload(file, entry)
      const refusals = new Set<string>()
      for (const refused of discovered.refused) {
        yield* refuse(refusals, { source: refused.source, location: refused.location, reason: refused.error.message })
      }
      for (const plugin of discovered.plugins) {
        if (served.has(plugin.manifest.file) || plugin.manifest.manifest.runtime !== runtime) continue
        yield* load(plugin, discovered, refusals)
      }
      refusedBefore = refusals
    }).pipe(
      Effect.catch((error) => Effect.logWarning(`plugin discovery failed; serving the plugins loaded before: ${error.message}`)),
      Effect.withSpan("PluginManager.rescan")
    )

    /** What the polled folders look like now; a change triggers a full discovery. */
    const fingerprint = Effect.gen(function* () {
      const roots = [
        ...config.paths.map((dir) => ({ dir, marker: manifestFileName })),
        { dir: NodePath.join(projectDir, "node_modules"), marker: "package.json" }
      ]
      const parts = yield* Effect.forEach(roots, ({ dir, marker }) => folderState(dir, marker), { concurrency: 4 })
      const manifests = yield* Effect.forEach([...served.keys()], stamp, { concurrency: 16 })
      return JSON.stringify([parts, manifests])
    })

    const poll = Effect.gen(function* () {
      const now = yield* fingerprint
      if (now === lastFingerprint) return
      lastFingerprint = now
      yield* rescan
    })

    yield* poll
    yield* Effect.logInfo(`serving ${served.size} discovered plugin(s) of runtime ${runtime}`, {
      projectDir,
      plugins: [...served.values()].map((entry) => entry.plugin.id)
    })
    const interval = Duration.fromInputUnsafe(options.interval ?? "2 seconds")
    yield* Effect.forkScoped(poll.pipe(Effect.repeat(Schedule.spaced(interval)), Effect.delay(interval)))

    return PluginManager.of({
      served: Effect.sync(() => [...served.values()]),
      rescan
    })
  })

/** When a file last changed, and its size; `absent` when it does not exist. */
const stamp = (path: string): Effect.Effect<string> =>
  Effect.tryPromise({ try: () => stat(path), catch: () => "absent" }).pipe(
    Effect.map((stats) => `${stats.mtimeMs}:${stats.size}`),
    Effect.catch(() => Effect.succeed("absent"))
  )

/** `dir`'s own `marker`, and its subfolders (one level into `@scope` folders) with theirs. */
const folderState = (dir: string, marker: string) =>
  Effect.gen(function* () {
    const listing = yield* listFolders(dir)
    if (listing._tag !== "Listed") return [`${dir}: ${listing._tag}`]
    const scoped = yield* Effect.forEach(
      listing.names.filter((name) => name.startsWith("@")),
      (scope) =>
        listFolders(NodePath.join(dir, scope)).pipe(
          Effect.map((inner) => (inner._tag === "Listed" ? inner.names.map((name) => `${scope}/${name}`) : []))
        ),
      { concurrency: 8 }
    )
    const folders = ["", ...listing.names.filter((name) => !name.startsWith("@")), ...scoped.flat()]
    const stamps = yield* Effect.forEach(folders, (name) => stamp(NodePath.join(dir, name, marker)), { concurrency: 16 })
    return [dir, ...folders.map((name, index) => `${name}: ${stamps[index]}`)]
  })
