/**
 * Filesystem reads for plugin discovery: listing a folder's subfolders,
 * checking for a `plugin.yaml`, and reading the `switchyard.plugin` field of
 * an npm package's `package.json` (read as JSON, never imported).
 */
import * as NodePath from "node:path"
import { access, readdir, readFile } from "node:fs/promises"
import { Effect } from "effect"

/** The manifest file name of a plugin folder. */
export const manifestFileName = "plugin.yaml"

/** What a folder listing gives back: subfolder names, or why the folder could not be read. */
export type Listing =
  | { readonly _tag: "Listed"; readonly names: ReadonlyArray<string> }
  | { readonly _tag: "Missing" }
  | { readonly _tag: "Unreadable"; readonly reason: string }

const codeOf = (cause: unknown): string | undefined =>
  typeof cause === "object" && cause !== null && "code" in cause ? String((cause as { code: unknown }).code) : undefined

/** Names of the subfolders (and symlinks, which may point at folders) of `dir`, hidden ones left out. */
export const listFolders = (dir: string): Effect.Effect<Listing> =>
  Effect.tryPromise({ try: () => readdir(dir, { withFileTypes: true }), catch: (cause) => cause }).pipe(
    Effect.map((entries): Listing => ({
      _tag: "Listed",
      names: entries
        .filter((entry) => !entry.name.startsWith(".") && (entry.isDirectory() || entry.isSymbolicLink()))
        .map((entry) => entry.name)
    })),
    Effect.catch((cause) =>
      Effect.succeed<Listing>(
        codeOf(cause) === "ENOENT" || codeOf(cause) === "ENOTDIR"
          ? { _tag: "Missing" }
          : { _tag: "Unreadable", reason: codeOf(cause) ?? String(cause) }
      )
    )
  )

/** Whether `dir` holds a `plugin.yaml`. */
export const hasManifest = (dir: string): Effect.Effect<boolean> =>
  Effect.tryPromise({ try: () => access(NodePath.join(dir, manifestFileName)), catch: () => false }).pipe(
    Effect.as(true),
    Effect.catch(() => Effect.succeed(false))
  )

/** What a package's `package.json` says about plugins. */
export type PackagePlugin =
  | { readonly _tag: "None" }
  | { readonly _tag: "Plugin"; readonly name: string; readonly manifest: string }
  | { readonly _tag: "Invalid"; readonly file: string; readonly expected: string; readonly found: string }

/** Reads `<packageDir>/package.json` and resolves its `switchyard.plugin` manifest path, if any. */
export const readPackagePlugin = (packageDir: string): Effect.Effect<PackagePlugin> => {
  const file = NodePath.join(packageDir, "package.json")
  return Effect.tryPromise({ try: () => readFile(file, "utf8"), catch: () => undefined }).pipe(
    Effect.flatMap((text) => Effect.try({ try: () => JSON.parse(text) as unknown, catch: (cause) => String(cause) })),
    Effect.map((json): PackagePlugin => {
      if (typeof json !== "object" || json === null) return { _tag: "None" }
      const record = json as Record<string, unknown>
      const field = record["switchyard"]
      if (field === undefined) return { _tag: "None" }
      const plugin = typeof field === "object" && field !== null ? (field as Record<string, unknown>)["plugin"] : undefined
      if (typeof plugin !== "string" || plugin === "") {
        return { _tag: "Invalid", file, expected: 'a "switchyard": { "plugin": "./plugin.yaml" } field', found: JSON.stringify(field) }
      }
      const manifest = NodePath.resolve(packageDir, plugin)
      if (manifest !== packageDir && !manifest.startsWith(`${packageDir}${NodePath.sep}`)) {
        return { _tag: "Invalid", file, expected: "a switchyard.plugin path inside the package", found: JSON.stringify(plugin) }
      }
      return { _tag: "Plugin", name: typeof record["name"] === "string" ? record["name"] : NodePath.basename(packageDir), manifest }
    }),
    Effect.catch((cause) =>
      Effect.succeed<PackagePlugin>(
        cause === undefined ? { _tag: "None" } : { _tag: "Invalid", file, expected: "a package.json holding JSON", found: String(cause) }
      )
    )
  )
}
