/**
 * The plugin manifest, `plugin.yaml`: who a plugin is, how it runs, the
 * actions (stage types) it provides with their full stage metadata, and the
 * capabilities it asks of its host. `manifestStages` turns a manifest into the
 * `StageMetadata` list an executor registers.
 */
import { Schema } from "effect"
import {
  Capabilities,
  CountExpr,
  Identifier,
  JsonSchemaDoc,
  OutputMode,
  Runtime,
  SecretKey,
  SemVer,
  StageMetadata,
  StageTypeName
} from "./StageMetadata.ts"

/**
 * Marks an object as closed in the generated JSON Schema (`propertyNames`), so
 * editors flag unknown fields. Decoding accepts any keys here: the manifest
 * loader reports unknown fields itself, with positions and suggestions.
 */
const closed = <T>(fields: ReadonlyArray<string>) =>
  Schema.makeFilter<T>(() => true, { toJsonSchema: () => ({ propertyNames: { enum: [...fields] } }) })

/** A subject-safe token: lower case letters, digits, `_` and `-`, not starting with `_` or `-`. */
export const PluginToken = Schema.String.pipe(
  Schema.check(
    Schema.isPattern(/^[a-z0-9][a-z0-9_-]*$/u, {
      message: "expected a subject-safe token (lower case letters, digits, _ and -, starting with a letter or digit)"
    })
  )
)

/**
 * A duration with its unit, such as `30s`, `500ms`, `2m` or `10 seconds`. A
 * bare number is refused (the loader says to add a unit): it used to mean
 * milliseconds, so `timeout: 30` stopped a task after 30 ms.
 */
export const ManifestTimeout = Schema.String.pipe(
  Schema.check(
    Schema.isPattern(/^\s*\d+(?:\.\d+)?\s*(?:ms|millis|milliseconds?|s|secs?|seconds?|m|mins?|minutes?|h|hours?)\s*$/u, {
      message: "expected a duration with a unit such as 30s, 500ms, 2m or 10 seconds"
    })
  )
)

/** Default stage timeout when a manifest names none: 30 seconds. */
export const defaultTimeoutMs = 30_000

/** One filesystem mount a plugin asks for. */
const mountFields = {
  path: Schema.String,
  mode: Schema.Literals(["ro", "rw"])
}
export const ManifestMount = Schema.Struct(mountFields).check(closed(Object.keys(mountFields)))

/** What a plugin needs from its host: network, mounts, secrets by key, environment variables by name. */
const capabilityFields = {
  network: Schema.optionalKey(Schema.Boolean),
  mounts: Schema.optionalKey(Schema.Array(ManifestMount)),
  secrets: Schema.optionalKey(Schema.Array(SecretKey)),
  env: Schema.optionalKey(Schema.Array(Schema.String))
}
export class ManifestCapabilities extends Schema.Class<ManifestCapabilities>("switchyard/PluginCapabilities")(
  Schema.Struct(capabilityFields).check(closed(Object.keys(capabilityFields)))
) {}

/** One action of a plugin; its stage type is `namespace/plugin.action`. */
const stageFields = {
  name: PluginToken,
  description: Schema.String,
  version: Schema.optionalKey(SemVer),
  stateKey: Schema.optionalKey(Schema.NullOr(Schema.Union([Identifier, Schema.Array(Identifier)]))),
  output: OutputMode,
  count: CountExpr,
  dependencies: Schema.optionalKey(Schema.Array(StageTypeName)),
  inputs: Schema.optionalKey(JsonSchemaDoc),
  outputs: Schema.optionalKey(JsonSchemaDoc),
  timeout: Schema.optionalKey(ManifestTimeout)
}
export class ManifestStage extends Schema.Class<ManifestStage>("switchyard/PluginStage")(
  Schema.Struct(stageFields).check(closed(Object.keys(stageFields)))
) {}

/** A positive whole number. */
const PositiveInt = Schema.Int.pipe(Schema.check(Schema.isGreaterThanOrEqualTo(1)))

/** A warm pool: long-lived processes that each run many tasks of the plugin (trusted `process` plugins only). */
const poolFields = {
  /** Most processes alive at once, and so most tasks of the plugin running at once in one executor. */
  size: PositiveInt,
  /** Tasks one process runs before it is replaced; unlimited when absent. */
  maxTasksPerProcess: Schema.optionalKey(PositiveInt)
}
export class ManifestPool extends Schema.Class<ManifestPool>("switchyard/PluginPool")(
  Schema.Struct(poolFields).check(closed(Object.keys(poolFields)))
) {}

/**
 * A warm pool reuses processes across tasks, so it is only for plugins that
 * run as `process` and are trusted (`permission` trusted or unset, the
 * recommended permission being trusted unless the manifest asks for
 * restricted). The JSON Schema says the same with `if`/`then`.
 */
const poolOnlyWhenTrustedProcess = Schema.makeFilter<{
  readonly pool?: ManifestPool | undefined
  readonly runtime: string
  readonly permission?: string | undefined
}>(
  (manifest) => {
    if (manifest.pool === undefined || (manifest.runtime === "process" && manifest.permission !== "restricted")) return undefined
    const why = manifest.runtime === "process" ? "permission restricted" : `runtime ${manifest.runtime}`
    return {
      path: ["pool"],
      issue: `Expected no pool (a warm pool is only for trusted process plugins: runtime process, permission trusted or unset; this plugin has ${why})`
    }
  },
  {
    toJsonSchema: () => ({
      if: { required: ["pool"] },
      then: { properties: { runtime: { const: "process" }, permission: { const: "trusted" } } }
    })
  }
)

/** The decoded `plugin.yaml`. */
const rootFields = {
  name: PluginToken,
  namespace: PluginToken,
  version: SemVer,
  description: Schema.String,
  runtime: Runtime,
  /** Module path relative to the plugin folder; for `inline` and `process`. */
  entry: Schema.optionalKey(Schema.String),
  /** Container image; for `docker`. */
  image: Schema.optionalKey(Schema.String),
  stages: Schema.Array(ManifestStage),
  capabilities: Schema.optionalKey(ManifestCapabilities),
  permission: Schema.optionalKey(Schema.Literals(["trusted", "restricted"])),
  /** Reuse processes across tasks; for trusted `process` plugins. */
  pool: Schema.optionalKey(ManifestPool)
}
export class PluginManifest extends Schema.Class<PluginManifest>("switchyard/PluginManifest")(
  Schema.Struct(rootFields).check(closed(Object.keys(rootFields)), poolOnlyWhenTrustedProcess)
) {}

/** Field names a manifest may use at each level, for unknown-field checks. */
export const manifestFields: {
  readonly root: ReadonlyArray<string>
  readonly stage: ReadonlyArray<string>
  readonly capabilities: ReadonlyArray<string>
  readonly mount: ReadonlyArray<string>
  readonly pool: ReadonlyArray<string>
} = {
  root: Object.keys(rootFields),
  stage: Object.keys(stageFields),
  capabilities: Object.keys(capabilityFields),
  mount: Object.keys(mountFields),
  pool: Object.keys(poolFields)
}

const unitMs: Record<string, number> = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000 }

/** Milliseconds of a manifest timeout; `30 seconds` → 30000. */
export const timeoutMillis = (timeout: typeof ManifestTimeout.Type | undefined): number => {
  if (timeout === undefined) return defaultTimeoutMs
  const match = /^\s*(\d+(?:\.\d+)?)\s*([a-z]+)\s*$/u.exec(timeout)
  const unit = match?.[2] ?? "ms"
  const key = unit.startsWith("mil") || unit === "ms" ? "ms" : unit.charAt(0)
  return Math.max(1, Math.round(Number(match?.[1] ?? "0") * (unitMs[key] ?? 1)))
}

/** The plugin id of a manifest: `namespace/name`. */
export const pluginId = (manifest: PluginManifest): string => `${manifest.namespace}/${manifest.name}`

/** The stage type of one action: `namespace/name.action`. */
export const stageTypeOf = (manifest: PluginManifest, stage: ManifestStage): string =>
  `${manifest.namespace}/${manifest.name}.${stage.name}`

/** The stage metadata of every action of a manifest, in manifest order. */
export const manifestStages = (manifest: PluginManifest): ReadonlyArray<StageMetadata> => {
  const capabilities = manifest.capabilities
  const declared =
    capabilities === undefined
      ? undefined
      : new Capabilities({
          ...(capabilities.network === undefined ? {} : { network: capabilities.network }),
          ...(capabilities.mounts === undefined ? {} : { mounts: capabilities.mounts }),
          ...(capabilities.secrets === undefined ? {} : { secrets: capabilities.secrets })
        })
  return manifest.stages.map(
    (stage) =>
      new StageMetadata({
        type: stageTypeOf(manifest, stage),
        version: stage.version ?? manifest.version,
        description: stage.description,
        plugin: pluginId(manifest),
        stateKey: stage.stateKey ?? null,
        output: stage.output,
        count: stage.count,
        dependencies: stage.dependencies ?? [],
        ...(stage.inputs === undefined ? {} : { inputs: stage.inputs }),
        ...(stage.outputs === undefined ? {} : { outputs: stage.outputs }),
        runtime: manifest.runtime,
        timeoutMs: timeoutMillis(stage.timeout),
        ...(declared === undefined ? {} : { capabilities: declared })
      })
  )
}
