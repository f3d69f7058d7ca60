/**
 * Stage definitions an executor serves: the built-in plugins (`core` and
 * `hello`, loaded from their packages), the plugins discovered for the project (plus the folders and
 * packages a pipeline's `plugins:` section names), and modules named with
 * `--module` that export `stages` (an array of `defineStage` results) or a
 * default export of one.
 */
import { fileURLToPath, pathToFileURL } from "node:url"
import { readFile } from "node:fs/promises"
import { dirname, extname, join, relative, resolve, sep } from "node:path"
import { Effect, Schema } from "effect"
import type { PipelinePlugins } from "@switchyard/schemas/Pipeline"
import type { StageDefinition } from "@switchyard/schemas/Stage"
import { discoverPlugins, loadPluginsConfig, processStages } from "../../plugins/index.ts"
import { StageModuleError } from "./stageModuleError.ts"

export { StageModuleError }

/**
 * The packages whose stage types every executor serves unless told
 * otherwise. They are plugins like any other, loaded by module path when an
 * executor starts (never imported by the runtime's code), so commands that
 * serve no stage do not load their parsers.
 */
export const builtInPackages = ["@switchyard/plugin-core", "@switchyard/plugin-hello"] as const

const builtInStages = Effect.forEach(builtInPackages, (name) => loadStageModule(fileURLToPath(import.meta.resolve(name)))).pipe(
  Effect.map((loaded) => loaded.flat())
)

/** A package a pipeline's `plugins.packages` names is not installed as a plugin. */
export class PipelinePluginMissingError extends Schema.TaggedError<PipelinePluginMissingError>()("PipelinePluginMissingError", {
  file: Schema.String,
  packageName: Schema.String,
  projectDir: Schema.String
}) {
  override get message(): string {
    return `${this.file}: plugins.packages: expected the npm package ${this.packageName} installed as a Switchyard plugin in ${this.projectDir}/node_modules (a package.json with "switchyard": { "plugin": ... }), found none`
  }
}

/** What a pipeline adds to the project's plugins: its `plugins:` section and the file it sits in. */
export interface PipelinePluginsSource {
  readonly file: string
  readonly plugins: PipelinePlugins
}

const isDefinition = (value: unknown): value is StageDefinition =>
  value !== null && typeof value === "object" && "metadata" in value && "execute" in value

/** Imports a module and returns the stage definitions it exports. */
export const loadStageModule = (path: string) =>
  esmInCommonJs(path)
    .pipe(
      Effect.flatMap((misplaced) =>
        misplaced === undefined
          ? Effect.tryPromise({
              try: () => import(pathToFileURL(resolve(path)).href) as Promise<Record<string, unknown>>,
              // Node reparses a module of a package without "type" as ESM when it sees ESM syntax,
              // so only a failed reparse lands here; look again with what the failure was.
              catch: (cause) => cause
            }).pipe(
              Effect.catch((cause) =>
                Effect.flatMap(esmInCommonJs(path, cause instanceof SyntaxError), (again) =>
                  Effect.fail(new StageModuleError({ path, message: again ?? `cannot import it: ${String(cause)}` }))
                )
              )
            )
          : Effect.fail(new StageModuleError({ path, message: misplaced }))
      )
    )
    .pipe(
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

// `import`/`export` statements at the start of a line: the module is written as ESM.
const esmSyntax = /^\s*(?:import\s*[\w{*"'(]|export\s)/mu

/**
 * How Node decides a module's format: `.mjs`/`.mts` are ESM and `.cjs`/`.cts`
 * CommonJS; `.js`/`.ts` follow the `type` of the nearest package.json, and a
 * package without one is CommonJS unless Node detects ESM syntax.
 */
const moduleFormat = (file: string): Effect.Effect<{ readonly format: "esm" | "commonjs" | "typeless"; readonly packageJson?: string }> =>
  Effect.gen(function* () {
    const extension = extname(file)
    if (extension === ".mjs" || extension === ".mts") return { format: "esm" }
    if (extension === ".cjs" || extension === ".cts") return { format: "commonjs" }
    for (let dir = dirname(file); ; dir = dirname(dir)) {
      const packageJson = join(dir, "package.json")
      const text = yield* Effect.tryPromise(() => readFile(packageJson, "utf8")).pipe(Effect.orElseSucceed(() => undefined))
      if (text !== undefined) {
        const type = yield* Effect.try(() => (JSON.parse(text) as { readonly type?: unknown }).type).pipe(
          Effect.orElseSucceed(() => undefined)
        )
        return { format: type === "module" ? "esm" : type === "commonjs" ? "commonjs" : "typeless", packageJson }
      }
      if (dirname(dir) === dir) return { format: "typeless" }
    }
  })

/**
 * Why the module at `path` cannot load as ESM: it is written with
 * `import`/`export` but Node loads it as CommonJS (or, after `failed` with a
 * SyntaxError, could not reparse it). Undefined when that is not the case.
 */
const esmInCommonJs = (path: string, failed = false): Effect.Effect<string | undefined> =>
  Effect.gen(function* () {
    const file = resolve(path)
    const { format, packageJson } = yield* moduleFormat(file)
    if (format === "esm" || (format === "typeless" && !failed)) return undefined
    const text = yield* Effect.tryPromise(() => readFile(file, "utf8")).pipe(Effect.orElseSucceed(() => ""))
    if (!esmSyntax.test(text)) return undefined
    const where = packageJson === undefined ? `a package.json beside it` : packageJson
    const rename = extname(file).endsWith("ts") ? ".mts" : ".mjs"
    return `an ES module (import/export) that Node loads as CommonJS; add "type": "module" to ${where} or rename it to ${rename}`
  })

/**
 * Stage definitions of the plugins discovered for the project: every
 * `runtime: process` plugin on the plugin paths or installed as an npm
 * package. Refused plugins and conflicting stage types are logged and left
 * out; the rest are served. Warm pools of the plugins live as long as the scope.
 */
export const discoveredStages = (projectDir: string, pipeline?: PipelinePluginsSource) =>
  Effect.gen(function* () {
    const config = yield* loadPluginsConfig({ projectDir })
    const pipelineDir = pipeline === undefined ? projectDir : resolve(pipeline.file, "..")
    const extraPaths = (pipeline?.plugins.paths ?? []).map((path) => resolve(pipelineDir, path))
    const discovered = yield* discoverPlugins({ projectDir, config: { ...config, paths: [...new Set([...config.paths, ...extraPaths])] } })
    const modulesDir = resolve(projectDir, "node_modules")
    for (const packageName of pipeline?.plugins.packages ?? []) {
      const installed = discovered.plugins.some(
        (plugin) => plugin.source === "npm" && relative(modulesDir, plugin.location).split(sep).join("/") === packageName
      )
      if (!installed) return yield* new PipelinePluginMissingError({ file: pipeline!.file, packageName, projectDir })
    }
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
  options: {
    readonly builtins?: boolean
    readonly plugins?: boolean
    readonly projectDir?: string
    /** A pipeline whose `plugins:` section adds folders and requires packages. */
    readonly pipeline?: PipelinePluginsSource
  } = {}
) =>
  Effect.gen(function* () {
    const plugins = options.plugins === false ? [] : yield* discoveredStages(options.projectDir ?? process.cwd(), options.pipeline)
    const loaded = yield* Effect.forEach(modules, loadStageModule)
    const builtIns = options.builtins === false ? [] : yield* builtInStages
    return [...builtIns, ...plugins, ...loaded.flat()]
  })
