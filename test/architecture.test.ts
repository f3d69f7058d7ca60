/**
 * The seams between the packages, read from the import statements of every
 * source file: the services never import the SDK, the top-level folders
 * import each other without a cycle, a package imports another only through
 * its name (never a relative path into it) and only when its package.json
 * depends on it.
 */
import { readdirSync, readFileSync } from "node:fs"
import { dirname, join, relative, resolve } from "node:path"
import { fileURLToPath } from "node:url"
import { assert, describe, it } from "@effect/vitest"
import ts from "typescript"

const repoRoot = fileURLToPath(new URL("../", import.meta.url))

/** Workspace folders, the most specific first (`services/bus` sits inside `services`). */
const packages = [
  { folder: "services/bus", name: "@switchyard/bus" },
  { folder: "schemas", name: "@switchyard/schemas" },
  { folder: "sdk", name: "@switchyard/sdk" },
  { folder: "plugins/core", name: "@switchyard/plugin-core" },
  { folder: "plugins/hello", name: "@switchyard/plugin-hello" },
  { folder: "services", name: "@switchyard/runtime" }
] as const
const topLevel = ["schemas", "sdk", "services", "plugins"] as const

const sourceFiles = (folder: string): ReadonlyArray<string> =>
  readdirSync(join(repoRoot, folder), { withFileTypes: true }).flatMap((entry) => {
    const path = join(folder, entry.name)
    if (entry.isDirectory()) return entry.name === "node_modules" || entry.name === "dist" ? [] : sourceFiles(path)
    return entry.name.endsWith(".ts") ? [path] : []
  })

// TypeScript's own scanner: static and dynamic imports and re-exports, not text inside strings.
const specifiers = (file: string): ReadonlyArray<string> =>
  ts.preProcessFile(readFileSync(join(repoRoot, file), "utf8"), true, true).importedFiles.map((imported) => imported.fileName)

const packageOf = (file: string) => packages.find((pkg) => file === pkg.folder || file.startsWith(`${pkg.folder}/`))
const topLevelOf = (file: string) => topLevel.find((folder) => file.startsWith(`${folder}/`))

interface Edge {
  readonly from: string
  readonly to: string
  readonly specifier: string
}

/** Every import between two files of the packages, as repository-relative target paths. */
const edges: ReadonlyArray<Edge> = topLevel.flatMap((folder) =>
  sourceFiles(folder).flatMap((file) =>
    specifiers(file).flatMap((specifier): ReadonlyArray<Edge> => {
      if (specifier.startsWith(".")) return [{ from: file, to: relative(repoRoot, resolve(repoRoot, dirname(file), specifier)), specifier }]
      const target = packages.find((pkg) => specifier === pkg.name || specifier.startsWith(`${pkg.name}/`))
      return target === undefined
        ? []
        : [{ from: file, to: `${target.folder}/${specifier.slice(target.name.length + 1) || "index"}`, specifier }]
    })
  )
)

const dependenciesOf = (folder: string): ReadonlySet<string> => {
  const manifest = JSON.parse(readFileSync(join(repoRoot, folder, "package.json"), "utf8")) as {
    readonly dependencies?: Record<string, string>
  }
  return new Set(Object.keys(manifest.dependencies ?? {}))
}

describe("package seams", () => {
  it("no file under services/ imports from sdk/", () => {
    const offending = edges.filter((edge) => topLevelOf(edge.from) === "services" && topLevelOf(edge.to) === "sdk")
    assert.deepStrictEqual(offending, [])
  })

  it("the top-level folders import each other without a cycle", () => {
    const graph = new Map<string, Set<string>>(topLevel.map((folder) => [folder, new Set<string>()]))
    for (const edge of edges) {
      const from = topLevelOf(edge.from)
      const to = topLevelOf(edge.to)
      if (from !== undefined && to !== undefined && from !== to) graph.get(from)!.add(to)
    }
    const reaches = (start: string, goal: string, seen = new Set<string>()): boolean =>
      [...graph.get(start)!].some((next) => next === goal || (!seen.has(next) && (seen.add(next), reaches(next, goal, seen))))
    const cyclic = topLevel.filter((folder) => reaches(folder, folder))
    assert.deepStrictEqual(cyclic, [], JSON.stringify(Object.fromEntries([...graph].map(([key, value]) => [key, [...value]]))))
  })

  it("a package reaches another only by its name, and only when it depends on it", () => {
    const problems = edges.flatMap((edge) => {
      const from = packageOf(edge.from)
      const to = packageOf(edge.to)
      if (from === undefined || to === undefined || from === to) return []
      if (edge.specifier.startsWith(".")) return [`${edge.from}: imports ${edge.specifier} by path; use ${to.name}`]
      return dependenciesOf(from.folder).has(to.name) ? [] : [`${edge.from}: imports ${to.name}, missing from ${from.folder}/package.json`]
    })
    assert.deepStrictEqual(problems, [])
  })

  it("reads the imports it checks", () => {
    // The checks above pass vacuously if the scan finds nothing.
    assert.isAbove(edges.filter((edge) => edge.specifier.startsWith("@switchyard/")).length, 100)
    assert.isTrue(edges.some((edge) => edge.from.startsWith("sdk/") && edge.to.startsWith("services/bus/")))
  })
})
