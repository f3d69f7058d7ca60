/**
 * Loads a plugin manifest (`plugin.yaml`): parses the YAML keeping positions,
 * refuses unknown fields with the closest known name, decodes it with the
 * `PluginManifest` schema, then applies the load-time checks (entry or image
 * matching the runtime, unique subject-safe action names, mounts that neither
 * escape with `..` nor expose `/` or the Docker socket, an entry module inside
 * the plugin folder). Every problem becomes a `ManifestIssue` naming file,
 * line, column and field path.
 */
import * as NodePath from "node:path"
import { readFile } from "node:fs/promises"
import { Effect, Schema, SchemaIssue } from "effect"
import { manifestStages, PluginManifest } from "@switchyard/schemas/PluginManifest"
import type { StageMetadata } from "@switchyard/schemas/StageMetadata"
import { describeFound, manifestProblems, unknownFields } from "./internal/checks.ts"
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
  if (parsed._tag === "SyntaxErrors") {
    return yield* new ManifestError({
      file,
      issues: parsed.errors.map(
        (error) => new ManifestIssue({ file, line: error.line, column: error.column, path: "", message: error.message })
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
  const unknown = unknownFields(raw)
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
  const issues = [...unknown.map((problem) => issueAt(problem.path, problem.message, true)), ...schemaIssues]
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
