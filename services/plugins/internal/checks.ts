/**
 * Checks on a manifest beyond its schema: unknown fields (with the closest
 * known name), `entry`/`image` against the runtime, unique action names, and
 * the security rules for mounts and the entry module. Each returns problems
 * as a field path and a message; the loader adds file positions.
 */
import * as NodePath from "node:path"
import { manifestFields } from "@switchyard/schemas/PluginManifest"
import type { PluginManifest } from "@switchyard/schemas/PluginManifest"
import { suggest } from "../../registry/index.ts"
import { joinPath } from "@switchyard/schemas/YamlDocument"

/** A problem at a field path. */
export interface Problem {
  readonly path: string
  readonly message: string
}

/** Sockets through which a container could control the Docker daemon. */
export const dockerSockets: ReadonlyArray<string> = ["/var/run/docker.sock", "/run/docker.sock"]

const isRecord = (value: unknown): value is Record<string, unknown> => typeof value === "object" && value !== null && !Array.isArray(value)

/** A short rendering of a found value for messages. */
export const describeFound = (value: unknown): string => {
  if (value === undefined) return "nothing"
  if (Array.isArray(value)) return "a list"
  if (isRecord(value)) return "a mapping"
  const text = JSON.stringify(value)
  return text.length > 60 ? `${text.slice(0, 57)}...` : text
}

const unknownIn = (value: unknown, known: ReadonlyArray<string>, at: ReadonlyArray<string | number>, problems: Array<Problem>): void => {
  if (!isRecord(value)) return
  for (const key of Object.keys(value)) {
    if (known.includes(key)) continue
    const closest = suggest(key, known, 1)[0]
    problems.push({
      path: joinPath([...at, key]),
      message: `unknown field "${key}"${closest === undefined ? "" : `; did you mean "${closest}"?`} (expected one of: ${known.join(", ")})`
    })
  }
}

/** Fields no manifest level knows; `inputs` and `outputs` are free-form JSON Schema and not walked. */
export const unknownFields = (raw: unknown): Array<Problem> => {
  const problems: Array<Problem> = []
  if (!isRecord(raw)) return problems
  unknownIn(raw, manifestFields.root, [], problems)
  const stages = raw["stages"]
  if (Array.isArray(stages)) stages.forEach((stage, index) => unknownIn(stage, manifestFields.stage, ["stages", index], problems))
  const capabilities = raw["capabilities"]
  unknownIn(capabilities, manifestFields.capabilities, ["capabilities"], problems)
  unknownIn(raw["pool"], manifestFields.pool, ["pool"], problems)
  const mounts = isRecord(capabilities) ? capabilities["mounts"] : undefined
  if (Array.isArray(mounts))
    mounts.forEach((mount, index) => unknownIn(mount, manifestFields.mount, ["capabilities", "mounts", index], problems))
  return problems
}

/** `entry` or `image`, exactly one, matching the runtime. */
const runtimeProblems = (manifest: PluginManifest): Array<Problem> => {
  const { entry, image, runtime } = manifest
  if (entry !== undefined && image !== undefined) {
    return [
      {
        path: "image",
        message: `expected either entry or image, found both (entry ${JSON.stringify(entry)}, image ${JSON.stringify(image)})`
      }
    ]
  }
  if (runtime === "docker") {
    if (entry !== undefined) {
      return [{ path: "entry", message: `expected image for runtime docker, found entry ${JSON.stringify(entry)}` }]
    }
    if (image === undefined) return [{ path: "runtime", message: "expected image for runtime docker, found neither entry nor image" }]
    return []
  }
  if (image !== undefined) {
    return [{ path: "image", message: `expected entry for runtime ${runtime}, found image ${JSON.stringify(image)}` }]
  }
  if (entry === undefined) return [{ path: "runtime", message: `expected entry for runtime ${runtime}, found neither entry nor image` }]
  return []
}

const mountProblem = (path: string): string | undefined => {
  if (path.split(/[/\\]/).includes("..")) return `expected a mount path without .. segments, found ${JSON.stringify(path)}`
  const normalized = NodePath.posix.normalize(path).replace(/(.)\/+$/, "$1")
  if (normalized === "/") return `expected a mount path below /, found ${JSON.stringify(path)} (the whole filesystem)`
  const socket = dockerSockets.find((candidate) => candidate === normalized || candidate.startsWith(`${normalized}/`))
  if (socket !== undefined) {
    return `expected a mount path that does not expose the Docker socket, found ${JSON.stringify(path)} (includes ${socket})`
  }
  return undefined
}

/** Security and consistency checks on a decoded manifest found in `dir`. */
export const manifestProblems = (manifest: PluginManifest, dir: string): Array<Problem> => {
  const problems = runtimeProblems(manifest)
  const seen = new Map<string, number>()
  manifest.stages.forEach((stage, index) => {
    const first = seen.get(stage.name)
    if (first === undefined) seen.set(stage.name, index)
    else
      problems.push({
        path: `stages[${index}].name`,
        message: `expected a unique action name, found "${stage.name}" again (first at stages[${first}])`
      })
  })
  ;(manifest.capabilities?.mounts ?? []).forEach((mount, index) => {
    const message = mountProblem(mount.path)
    if (message !== undefined) problems.push({ path: `capabilities.mounts[${index}].path`, message })
  })
  if (manifest.entry !== undefined) {
    const root = NodePath.resolve(dir)
    const target = NodePath.resolve(root, manifest.entry)
    if (NodePath.isAbsolute(manifest.entry) || !target.startsWith(`${root}${NodePath.sep}`)) {
      problems.push({
        path: "entry",
        message: `expected a module path inside the plugin folder, found ${JSON.stringify(manifest.entry)} (resolves to ${target})`
      })
    }
  }
  return problems
}

/** Where `found` first differs from `expected`: the field path and both values there. */
export interface Difference {
  readonly path: string
  readonly expected: unknown
  readonly found: unknown
}

const differenceAt = (expected: unknown, found: unknown, at: ReadonlyArray<string | number>): Difference | undefined => {
  if (Array.isArray(expected) && Array.isArray(found)) {
    for (let index = 0; index < Math.max(expected.length, found.length); index++) {
      const difference = differenceAt(expected[index], found[index], [...at, index])
      if (difference !== undefined) return difference
    }
    return undefined
  }
  if (isRecord(expected) && isRecord(found)) {
    const keys = [...Object.keys(expected), ...Object.keys(found).filter((key) => !(key in expected))]
    for (const key of keys) {
      const difference = differenceAt(expected[key], found[key], [...at, key])
      if (difference !== undefined) return difference
    }
    return undefined
  }
  return expected === found ? undefined : { path: joinPath(at), expected, found }
}

/** The first difference between two JSON values below the field path `at`; undefined when they are equal. */
export const firstDifference = (expected: unknown, found: unknown, at: ReadonlyArray<string | number>): Difference | undefined =>
  differenceAt(expected, found, at)

/** A JSON value for messages: `nothing` when absent, compact JSON cut at 80 characters otherwise. */
export const renderJson = (value: unknown): string => {
  if (value === undefined) return "nothing"
  const text = JSON.stringify(value)
  return text.length > 80 ? `${text.slice(0, 77)}...` : text
}

/**
 * Stage timeouts written as bare numbers. A number used to be read as
 * milliseconds, which made `timeout: 30` thirty milliseconds; a duration must
 * now say its unit.
 */
export const bareTimeouts = (raw: unknown): Array<Problem> => {
  const stages = isRecord(raw) ? raw["stages"] : undefined
  if (!Array.isArray(stages)) return []
  return stages.flatMap((stage, index) => {
    const timeout = isRecord(stage) ? stage["timeout"] : undefined
    if (typeof timeout !== "number") return []
    return [
      {
        path: joinPath(["stages", index, "timeout"]),
        message: `expected a duration with a unit such as 30s, 500ms or 2m, found the bare number ${timeout}; add a unit (${timeout}ms if milliseconds were meant, ${timeout}s for seconds)`
      }
    ]
  })
}
