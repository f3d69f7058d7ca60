/**
 * Loads a plugin manifest (`plugin.yaml`): parses the YAML keeping positions,
 * refuses unknown fields with the closest known name, decodes it with the
 * `PluginManifest` schema, then applies the load-time checks (entry or image
 * matching the runtime, unique subject-safe action names, mounts that neither
 * escape with `..` nor expose `/` or the Docker socket, an entry module inside
 * the plugin folder). Every problem becomes a `ManifestIssue` naming file,
 * line, column and field path. `checkEntryModule` goes further and imports the
 * entry module (in a child process, see `internal/describeEntry.ts`): every
 * stage must name an exported action, and the JSON Schemas of its inputs and
 * outputs are derived from the action's effect schemas, so a manifest that
 * writes them must write the same.
 */
import * as NodePath from "node:path"
import { readFile, stat } from "node:fs/promises"
import { Effect, Schema, SchemaIssue } from "effect"
import { manifestStages, PluginManifest } from "@switchyard/schemas/PluginManifest"
import { StageMetadata } from "@switchyard/schemas/StageMetadata"
import { bareTimeouts, describeFound, firstDifference, manifestProblems, renderJson, unknownFields } from "./internal/checks.ts"
import type { Problem } from "./internal/checks.ts"
import { describeEntry } from "./internal/describeEntry.ts"
import { joinPath, parseYaml, splitPath } from "@switchyard/schemas/YamlDocument"
import { ManifestError, ManifestIssue } from "./ManifestError.ts"

/** A manifest that passed every check, with the stage metadata it provides. */
export interface LoadedManifest {
  readonly file: string
  /** The plugin folder: the directory holding the manifest. */
  readonly dir: string
  readonly manifest: PluginManifest
  readonly stages: ReadonlyArray<StageMetadata>
}

const formatter = SchemaIssue.makeFormatterStandardSchemaV1()

const valueAt = (raw: unknown, path: string): unknown =>
  splitPath(path).reduce<unknown>(
    (value, segment) => (typeof value === "object" && value !== null ? (value as Record<string, unknown>)[segment] : undefined),
    raw
  )

const schemaMessage = (message: string, path: string, raw: unknown): string => {
  if (message === "Missing key") return `expected required field "${splitPath(path).at(-1) ?? path}", found nothing`
  const expected = message.charAt(0).toLowerCase() + message.slice(1)
  return `${expected}, found ${describeFound(valueAt(raw, path))}`
}

/** Parses, decodes and checks manifest text; the folder of `file` is the plugin folder. */
export const loadManifest = Effect.fn("ManifestLoader.loadManifest")(function* (options: { readonly file: string; readonly text: string }) {
  const { file, text } = options
  const parsed = parseYaml(text)
  if (parsed._tag === "Refused") {
    return yield* new ManifestError({
      file,
      issues: parsed.errors.map(
        (error) => new ManifestIssue({ file, line: error.line, column: error.column, path: error.path, message: error.message })
      )
    })
  }
  const { raw } = parsed
  const issueAt = (path: string, message: string, atKey = false): ManifestIssue => {
    const { column, line } = atKey ? parsed.locateKey(path) : parsed.locate(path)
    return new ManifestIssue({ file, line, column, path, message })
  }
  if (typeof raw !== "object" || raw === null || Array.isArray(raw)) {
    return yield* new ManifestError({
      file,
      issues: [issueAt("", `expected a mapping of manifest fields, found ${describeFound(raw ?? undefined)}`)]
    })
  }
  const unknown = [...unknownFields(raw), ...bareTimeouts(raw)]
  const decoded = Schema.decodeUnknownExit(PluginManifest)(raw, { errors: "all" })
  const schemaIssues =
    decoded._tag === "Success"
      ? []
      : decoded.cause.reasons.flatMap((reason) =>
          reason._tag === "Fail"
            ? formatter(reason.error.issue).issues.map((entry) => {
                const path = joinPath(
                  (entry.path ?? []).map((segment) =>
                    typeof segment === "object" ? (segment.key as string | number) : (segment as string | number)
                  )
                )
                return issueAt(path, schemaMessage(entry.message, path, raw))
              })
            : []
        )
  // A bare-number timeout has its own message above; the schema's "expected a string" adds nothing.
  const explained = new Set(unknown.map((problem) => problem.path))
  const issues = [
    ...unknown.map((problem) => issueAt(problem.path, problem.message, true)),
    ...schemaIssues.filter((issue) => !explained.has(issue.path))
  ]
  if (decoded._tag === "Failure" || issues.length > 0) {
    return yield* new ManifestError({ file, issues })
  }
  const manifest = decoded.value
  const dir = NodePath.dirname(file)
  const problems = manifestProblems(manifest, dir)
  if (problems.length > 0) {
    return yield* new ManifestError({ file, issues: problems.map((problem) => issueAt(problem.path, problem.message)) })
  }
  return { file, dir, manifest, stages: manifestStages(manifest) } satisfies LoadedManifest
})

/** Reads and loads the manifest at `path`; an unreadable file is a `ManifestError` at line 1. */
export const loadManifestFile = Effect.fn("ManifestLoader.loadManifestFile")(function* (path: string) {
  const text = yield* Effect.tryPromise({
    try: () => readFile(path, "utf8"),
    catch: (cause) =>
      new ManifestError({
        file: path,
        issues: [
          new ManifestIssue({
            file: path,
            line: 1,
            column: 1,
            path: "",
            message: `expected a readable manifest file, found ${cause instanceof Error ? cause.message : String(cause)}`
          })
        ]
      })
  })
  return yield* loadManifest({ file: path, text })
})

/** A JSON Schema derived from code, without the `$schema` line a manifest need not repeat. */
const withoutDialect = (schema: { readonly [key: string]: unknown }, written: unknown): unknown => {
  if (typeof written === "object" && written !== null && "$schema" in written) return schema
  const { $schema: _dialect, ...rest } = schema
  return rest
}

/**
 * Checks a loaded manifest against its entry module: the file exists and
 * imports, every stage names an exported action, and `inputs`/`outputs`, when
 * the manifest writes them, equal the JSON Schemas derived from the action's
 * effect schemas (the first difference is reported with its field path).
 * Returns the manifest with the derived schemas in its stage metadata.
 */
export const checkEntryModule = Effect.fn("ManifestLoader.checkEntryModule")(function* (loaded: LoadedManifest) {
  const { dir, file, manifest } = loaded
  if (manifest.entry === undefined) return loaded
  const text = yield* Effect.tryPromise(() => readFile(file, "utf8")).pipe(Effect.orElseSucceed(() => ""))
  const parsed = parseYaml(text)
  const refuse = (problems: ReadonlyArray<Problem>) =>
    new ManifestError({
      file,
      issues: problems.map((problem) => {
        const { column, line } = parsed._tag === "Refused" ? { line: 1, column: 1 } : parsed.locate(problem.path)
        return new ManifestIssue({ file, line, column, path: problem.path, message: problem.message })
      })
    })
  const entry = NodePath.resolve(dir, manifest.entry)
  const isFile = yield* Effect.tryPromise(() => stat(entry)).pipe(
    Effect.map((stats) => stats.isFile()),
    Effect.orElseSucceed(() => false)
  )
  if (!isFile) {
    return yield* refuse([
      { path: "entry", message: `expected a module file at ${JSON.stringify(manifest.entry)}, found nothing at ${entry}` }
    ])
  }
  const description = yield* describeEntry({ entry, dir, env: manifest.capabilities?.env ?? [] })
  if (description.status === "failed") {
    return yield* refuse([
      { path: "entry", message: `expected a module that imports, found ${description.error.tag}: ${description.error.message}` }
    ])
  }
  const actions = new Map(description.actions.map((action) => [action.name, action]))
  const exported =
    description.actions.length === 0 ? "no actions" : `actions ${description.actions.map((action) => action.name).join(", ")}`
  const problems = manifest.stages.flatMap((stage, index): Array<Problem> => {
    const action = actions.get(stage.name)
    if (action === undefined) {
      return [
        {
          path: `stages[${index}].name`,
          message: `expected an action named "${stage.name}" exported by ${manifest.entry} (a defineAction value), found ${exported}`
        }
      ]
    }
    return (["inputs", "outputs"] as const).flatMap((side) => {
      const written = stage[side]
      if (written === undefined) return []
      const difference = firstDifference(withoutDialect(action[side], written), written, ["stages", index, side])
      return difference === undefined
        ? []
        : [
            {
              path: difference.path,
              message: `expected ${renderJson(difference.expected)} as derived from the ${side} schema of action "${stage.name}", found ${renderJson(difference.found)}`
            }
          ]
    })
  })
  if (problems.length > 0) return yield* refuse(problems)
  return {
    ...loaded,
    stages: loaded.stages.map((metadata, index) => {
      const action = actions.get(manifest.stages[index]!.name)!
      return new StageMetadata({ ...metadata, inputs: action.inputs, outputs: action.outputs })
    })
  } satisfies LoadedManifest
})
