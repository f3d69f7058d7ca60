/**
 * Stage definitions an executor serves: the built-in plugins, plus modules
 * named with `--module` that export `stages` (an array of `defineStage`
 * results) or a default export of one.
 */
import { pathToFileURL } from "node:url"
import { resolve } from "node:path"
import { Effect, Schema } from "effect"
import { stages as hello } from "../../../plugins/hello/index.ts"
import type { StageDefinition } from "../../../sdk/defineStage.ts"
import { discoverProjectPlugins, processStages } from "../../plugins/index.ts"

/** The stage types every executor serves unless told otherwise. */
export const builtInStages: ReadonlyArray<StageDefinition> = hello

/** A stage module could not be loaded. */
export class StageModuleError extends Schema.TaggedError<StageModuleError>()("StageModuleError", {
  path: Schema.String,
  message: Schema.String
}) {}

const isDefinition = (value: unknown): value is StageDefinition =>
  value !== null && typeof value === "object" && "metadata" in value && "execute" in value

/** Imports a module and returns the stage definitions it exports. */
export const loadStageModule = (path: string) =>
  Effect.tryPromise({
    try: () => import(pathToFileURL(resolve(path)).href) as Promise<Record<string, unknown>>,
    catch: (cause) => new StageModuleError({ path, message: `cannot import it: ${String(cause)}` })
  }).pipe(
    Effect.flatMap((module) => {
      const exported = module.stages ?? module.default
      if (!Array.isArray(exported) || !exported.every(isDefinition)) {
        return Effect.fail(
          new StageModuleError({
            path,
            message: "expected an export `stages` (or a default export) holding an array of defineStage(...) results"
          })
        )
      }
      return Effect.succeed(exported as ReadonlyArray<StageDefinition>)
    })
  )

/**
 * Stage definitions of the plugins discovered for the project: every
 * `runtime: process` plugin on the plugin paths or installed as an npm
 * package. Refused plugins and conflicting stage types are logged and left
 * out; the rest are served. Warm pools of the plugins live as long as the scope.
 */
export const discoveredStages = (projectDir: string) =>
  Effect.gen(function* () {
    const discovered = yield* discoverProjectPlugins({ projectDir })
    for (const refused of discovered.refused) yield* Effect.logWarning(`plugin at ${refused.location} refused: ${refused.error.message}`)
    for (const conflict of discovered.conflicts) yield* Effect.logWarning(conflict.message)
    const stages = yield* Effect.forEach(discovered.plugins, (plugin) =>
      processStages(plugin.manifest).pipe(
        Effect.map((definitions) => definitions.filter((definition) => discovered.stages.get(definition.metadata.type) === plugin))
      )
    )
    return stages.flat()
  })

/**
 * The built-ins (unless `builtins` is false), the discovered plugins' stages
 * (unless `plugins` is false: an executor whose `PluginManager` serves them),
 * then every module's.
 */
export const loadStages = (
  modules: ReadonlyArray<string>,
  options: { readonly builtins?: boolean; readonly plugins?: boolean; readonly projectDir?: string } = {}
) =>
  Effect.gen(function* () {
    const plugins = options.plugins === false ? [] : yield* discoveredStages(options.projectDir ?? process.cwd())
    const loaded = yield* Effect.forEach(modules, loadStageModule)
    return [...(options.builtins === false ? [] : builtInStages), ...plugins, ...loaded.flat()]
  })
