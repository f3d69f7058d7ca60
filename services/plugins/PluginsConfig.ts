/**
 * Where plugins are looked for and which source wins a stage type two of them
 * provide: the project-local `./plugins`, the `plugins.paths` of the
 * project's `switchyard.yaml`, `SWITCHYARD_PLUGINS_PATH` (path-delimiter
 * separated) and a user-global folder (`$XDG_DATA_HOME/switchyard/plugins`,
 * else `~/.local/share/switchyard/plugins`), in that order. A malformed
 * `switchyard.yaml` is a `PluginsConfigError` naming file, line and column.
 */
import * as NodePath from "node:path"
import { homedir } from "node:os"
import { readFile } from "node:fs/promises"
import { Config, Effect, Option, Schema } from "effect"
import { parseYaml } from "@switchyard/schemas/YamlDocument"

/** Plugin search paths and stage-type preferences. */
export interface PluginsConfig {
  /** Absolute directories, deduplicated, in search order. */
  readonly paths: ReadonlyArray<string>
  /** Stage type → the plugin id or source path (manifest file or plugin folder) that wins it. */
  readonly prefer: ReadonlyMap<string, string>
}

/** A problem in `switchyard.yaml`, at a position in the file. */
export class PluginsConfigError extends Schema.TaggedError<PluginsConfigError>()("PluginsConfigError", {
  file: Schema.String,
  line: Schema.Int,
  column: Schema.Int,
  /** Dotted field path such as `plugins.paths[1]`. */
  path: Schema.String,
  expected: Schema.String,
  found: Schema.String
}) {
  get isRetryable(): boolean {
    return false
  }
  override get message(): string {
    return `${this.file}:${this.line}:${this.column}: ${this.path === "" ? "" : `${this.path}: `}expected ${this.expected}, found ${this.found}`
  }
}

/** The project configuration file name. */
export const projectConfigFile = "switchyard.yaml"

const describe = (value: unknown): string =>
  value === undefined
    ? "nothing"
    : Array.isArray(value)
      ? "a list"
      : value === null
        ? "null"
        : typeof value === "object"
          ? "a mapping"
          : JSON.stringify(value)

const isRecord = (value: unknown): value is Record<string, unknown> => typeof value === "object" && value !== null && !Array.isArray(value)

/** The plugins section of `<projectDir>/switchyard.yaml`; an absent file means an empty section. */
export const readProjectPluginsSection = Effect.fn("PluginsConfig.readProjectPluginsSection")(function* (projectDir: string) {
  const file = NodePath.join(projectDir, projectConfigFile)
  const text = yield* Effect.tryPromise({ try: () => readFile(file, "utf8"), catch: (cause) => cause }).pipe(
    Effect.catch(() => Effect.succeed(undefined))
  )
  if (text === undefined) return { paths: [] as ReadonlyArray<string>, prefer: new Map<string, string>() }
  const parsed = parseYaml(text)
  if (parsed._tag === "Refused") {
    const syntax = parsed.errors[0]!
    return yield* new PluginsConfigError({
      file,
      line: syntax.line,
      column: syntax.column,
      path: syntax.path,
      expected: "valid YAML within the input limits",
      found: syntax.message.replace(/^YAML syntax error: /, "")
    })
  }
  const fail = (path: string, expected: string, found: string) => {
    const { column, line } = parsed.locate(path)
    return new PluginsConfigError({ file, line, column, path, expected, found })
  }
  const raw = parsed.raw
  if (raw === null || raw === undefined) return { paths: [], prefer: new Map<string, string>() }
  if (!isRecord(raw)) return yield* fail("", "a mapping", describe(raw))
  const section = raw["plugins"]
  if (section === undefined || section === null) return { paths: [], prefer: new Map<string, string>() }
  if (!isRecord(section)) return yield* fail("plugins", "a mapping with paths and prefer", describe(section))
  const paths: Array<string> = []
  const rawPaths = section["paths"]
  if (rawPaths !== undefined && rawPaths !== null) {
    if (!Array.isArray(rawPaths)) return yield* fail("plugins.paths", "a list of folders", describe(rawPaths))
    for (const [index, entry] of rawPaths.entries()) {
      if (typeof entry !== "string" || entry === "") {
        return yield* fail(`plugins.paths[${index}]`, "a folder path", describe(entry))
      }
      paths.push(NodePath.resolve(projectDir, entry))
    }
  }
  const prefer = new Map<string, string>()
  const rawPrefer = section["prefer"]
  if (rawPrefer !== undefined && rawPrefer !== null) {
    if (!isRecord(rawPrefer)) return yield* fail("plugins.prefer", "a mapping of stage type to plugin id or path", describe(rawPrefer))
    for (const [stageType, winner] of Object.entries(rawPrefer)) {
      if (typeof winner !== "string" || winner === "") {
        return yield* fail(`plugins.prefer.${stageType}`, "a plugin id or source path", describe(winner))
      }
      prefer.set(stageType, winner.startsWith(".") ? NodePath.resolve(projectDir, winner) : winner)
    }
  }
  const unknown = Object.keys(section).find((key) => key !== "paths" && key !== "prefer")
  if (unknown !== undefined)
    return yield* fail(`plugins.${unknown}`, "only the fields paths and prefer", `field ${JSON.stringify(unknown)}`)
  return { paths, prefer }
})

/** Reads the plugins configuration of `projectDir` from its `switchyard.yaml` and the environment. */
export const loadPluginsConfig = Effect.fn("PluginsConfig.loadPluginsConfig")(function* (options: { readonly projectDir: string }) {
  const projectDir = NodePath.resolve(options.projectDir)
  const section = yield* readProjectPluginsSection(projectDir)
  const envPaths = yield* Config.option(Config.String("SWITCHYARD_PLUGINS_PATH"))
  const dataHome = yield* Config.option(Config.String("XDG_DATA_HOME"))
  const userGlobal = NodePath.join(
    Option.getOrElse(
      Option.filter(dataHome, (dir) => dir !== ""),
      () => NodePath.join(homedir(), ".local", "share")
    ),
    "switchyard",
    "plugins"
  )
  const fromEnv = Option.match(envPaths, {
    onNone: () => [],
    onSome: (value) =>
      value
        .split(NodePath.delimiter)
        .filter((entry) => entry !== "")
        .map((entry) => NodePath.resolve(projectDir, entry))
  })
  const paths = [...new Set([NodePath.join(projectDir, "plugins"), ...section.paths, ...fromEnv, userGlobal])]
  return { paths, prefer: section.prefer } satisfies PluginsConfig
})
