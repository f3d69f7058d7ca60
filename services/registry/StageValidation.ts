/**
 * Validation of a registration's stages before the registry looks at who owns
 * them: each `stages[i]` (untyped on the wire) is decoded as `StageMetadata`,
 * then checked against the rules the schema cannot express alone (state keys
 * agree with the output mode, the stage runs on the registration's runtime,
 * each type appears once, dependencies name known types and form no cycle).
 * Every rejection carries the field path (`stages[0].stateKey`) and says what
 * was expected and what was found. Pure functions: the CLI can run the same
 * checks on a plugin before it is ever deployed.
 */
import { Result, Schema } from "effect"
import { StageRejection, type StageRegistration } from "@switchyard/schemas/Registry"
import { StageMetadata, type Runtime } from "@switchyard/schemas/StageMetadata"
import { describeIssue } from "@switchyard/schemas/Codec"
import { suggest } from "./internal/suggest.ts"

/** The outcome of checking one stage of a registration. */
export interface StageCheck {
  /** Position in `registration.stages`. */
  readonly index: number
  /** The stage's `type`, or `""` when it has none. */
  readonly type: string
  readonly result: Result.Result<StageMetadata, StageRejection>
}

/** What the registry already holds: each registered type with its dependencies. */
export type KnownStages = ReadonlyMap<string, ReadonlyArray<string>>

const poolPattern = /^[A-Za-z0-9_-]+$/

const decodeMetadata = Schema.decodeUnknownResult(StageMetadata)

/** Checks one stage's metadata on its own (schema and output rules, runtime). */
export const validateStage = (
  raw: unknown,
  options: { readonly index: number; readonly runtime: Runtime }
): Result.Result<StageMetadata, StageRejection> => {
  const base = `stages[${options.index}]`
  const decoded = decodeMetadata(raw)
  if (Result.isFailure(decoded)) {
    const { message, path } = describeIssue(decoded.failure.issue)
    return Result.fail(invalid(joinPath(base, path), withFound(message, valueAt(raw, path))))
  }
  const metadata = decoded.success
  const stateKeyProblem = checkStateKey(metadata)
  if (stateKeyProblem !== undefined) return Result.fail(invalid(`${base}.stateKey`, stateKeyProblem))
  if (metadata.runtime !== options.runtime) {
    return Result.fail(
      invalid(
        `${base}.runtime`,
        `expected ${JSON.stringify(options.runtime)} (the registration's runtime), found ${JSON.stringify(metadata.runtime)}`
      )
    )
  }
  return Result.succeed(metadata)
}

/**
 * Checks every stage of a registration against the others and against the
 * stages already registered. The ownership rules (conflict, older version)
 * are the registry's, not checked here.
 */
export const checkRegistration = (registration: StageRegistration, known: KnownStages): ReadonlyArray<StageCheck> => {
  const poolProblem = poolPattern.test(registration.pool)
    ? undefined
    : invalid(
        "pool",
        `expected a pool name of letters, digits, _ and - (it becomes a subject token), found ${JSON.stringify(registration.pool)}`
      )
  const checks: Array<StageCheck> = registration.stages.map((raw, index) => ({
    index,
    type: typeOf(raw),
    result: poolProblem !== undefined ? Result.fail(poolProblem) : validateStage(raw, { index, runtime: registration.runtime })
  }))

  const firstIndex = new Map<string, number>()
  const afterDuplicates = checks.map((check): StageCheck => {
    if (Result.isFailure(check.result)) return check
    const first = firstIndex.get(check.type)
    if (first === undefined) {
      firstIndex.set(check.type, check.index)
      return check
    }
    return reject(
      check,
      `stages[${check.index}].type`,
      `expected each stage type once per registration, found ${JSON.stringify(check.type)} again (first at stages[${first}])`
    )
  })

  const candidates = new Map<string, ReadonlyArray<string>>()
  for (const check of afterDuplicates) {
    if (Result.isSuccess(check.result)) candidates.set(check.type, check.result.success.dependencies)
  }
  const graph = new Map<string, ReadonlyArray<string>>([...known, ...candidates])

  return afterDuplicates.map((check): StageCheck => {
    if (Result.isFailure(check.result)) return check
    const dependencies = check.result.success.dependencies
    for (const [j, dependency] of dependencies.entries()) {
      const path = `stages[${check.index}].dependencies[${j}]`
      if (dependency === check.type) {
        return reject(check, path, `expected another stage type, found ${JSON.stringify(dependency)} (a stage cannot depend on itself)`)
      }
      if (!known.has(dependency) && !candidates.has(dependency)) {
        const hints = suggest(dependency, graph.keys())
        const hint = hints.length === 0 ? "" : ` (did you mean ${hints.map((h) => JSON.stringify(h)).join(", ")}?)`
        return reject(
          check,
          path,
          `expected a registered stage type or one in this registration, found ${JSON.stringify(dependency)}${hint}`
        )
      }
      const cycle = pathBetween(graph, dependency, check.type)
      if (cycle !== undefined) {
        return reject(check, path, `expected no dependency cycle, found ${[check.type, ...cycle].join(" → ")}`)
      }
    }
    return check
  })
}

const invalid = (path: string, message: string) => new StageRejection({ code: "invalid-metadata", path, message })

const reject = (check: StageCheck, path: string, message: string): StageCheck => ({
  ...check,
  result: Result.fail(invalid(path, message))
})

const checkStateKey = (metadata: StageMetadata): string | undefined => {
  const { output, stateKey } = metadata
  const found = describeValue(stateKey)
  switch (output) {
    case "none":
      return stateKey === null ? undefined : `expected null (output: none produces nothing), found ${found}`
    case "unpack":
      if (typeof stateKey === "string" || stateKey === null) {
        return `expected a list of state keys (output: unpack), found ${found}`
      }
      return stateKey.length === 0 ? `expected at least one state key (output: unpack), found ${found}` : undefined
    default:
      if (stateKey === null) return `expected a state key (output: ${output}), found null`
      if (typeof stateKey !== "string") {
        return `expected a single state key (output: ${output}; a list needs output: unpack), found ${found}`
      }
      return undefined
  }
}

/** Dependency path from `from` to `to` (both included), if any. */
const pathBetween = (graph: ReadonlyMap<string, ReadonlyArray<string>>, from: string, to: string): ReadonlyArray<string> | undefined => {
  const seen = new Set<string>()
  const walk = (node: string): ReadonlyArray<string> | undefined => {
    if (node === to) return [node]
    if (seen.has(node)) return undefined
    seen.add(node)
    for (const next of graph.get(node) ?? []) {
      const rest = walk(next)
      if (rest !== undefined) return [node, ...rest]
    }
    return undefined
  }
  return walk(from)
}

const typeOf = (raw: unknown): string =>
  typeof raw === "object" && raw !== null && "type" in raw && typeof raw.type === "string" ? raw.type : ""

const joinPath = (base: string, path: string): string => (path === "" ? base : path.startsWith("[") ? `${base}${path}` : `${base}.${path}`)

/** The value at a `describeIssue` path (`a.b[0].c`), or undefined. */
const valueAt = (root: unknown, path: string): unknown => {
  let current = root
  for (const match of path.matchAll(/\[(\d+)\]|\.?([^.[\]]+)/g)) {
    if (typeof current !== "object" || current === null) return undefined
    const key = match[1] !== undefined ? Number(match[1]) : match[2]!
    current = (current as Record<string | number, unknown>)[key]
  }
  return current
}

const withFound = (message: string, value: unknown): string => (value === undefined ? message : `${message}, found ${describeValue(value)}`)

const describeValue = (value: unknown): string => {
  const text = JSON.stringify(value) ?? String(value)
  return text.length > 80 ? `${text.slice(0, 77)}...` : text
}
