/**
 * Checks a value against a stage type's `inputs` JSON Schema before the run.
 * The one place that uses the JSON Schema validator (Ajv): draft 2020-12, the
 * dialect `defineStage` generates, unless the schema names draft-07. Compiled
 * validators are kept per schema (by identity, then by text), so submitting
 * the same pipeline many times compiles each stage type's schema once. A
 * schema that does not compile is not checked here; the executor still
 * checks inputs when the task runs.
 */
import { Ajv2020 } from "ajv/dist/2020.js"
import { Ajv } from "ajv"
import type { ErrorObject, ValidateFunction } from "ajv"
import { Predicate, Result } from "effect"
import { Lru } from "@switchyard/bus/Lru"

/** One way a value does not match a schema. */
export interface SchemaProblem {
  /** The field the problem is about (for a missing field, that field). */
  readonly path: ReadonlyArray<string | number>
  /** The value the failing keyword looked at (for a missing field, its parent). */
  readonly instance: ReadonlyArray<string | number>
  /** The JSON Schema keyword that failed, e.g. `type`, `required`. */
  readonly keyword: string
  /** What was expected and what was found. */
  readonly message: string
}

type Schema = Readonly<Record<string, unknown>>

const options = { allErrors: true, strict: false, validateFormats: false, verbose: true, logger: false } as const
let draft2020: Ajv2020 | undefined
let draft07: Ajv | undefined

const byIdentity = new WeakMap<Schema, ValidateFunction | null>()
const byText = new Lru<string, ValidateFunction | null>(512)

const compile = (schema: Schema): ValidateFunction | null => {
  const known = byIdentity.get(schema)
  if (known !== undefined) return known
  const text = JSON.stringify(schema)
  let validate = byText.get(text)
  if (validate === undefined) {
    const dialect = typeof schema["$schema"] === "string" ? schema["$schema"] : ""
    const ajv = dialect.includes("draft-07") ? (draft07 ??= new Ajv(options)) : (draft2020 ??= new Ajv2020(options))
    // Ajv reports a schema it cannot compile by throwing; such a schema is left to the executor's check.
    const compiled = Result.try(() => ajv.compile(schema))
    validate = Result.isSuccess(compiled) ? compiled.success : null
    byText.set(text, validate)
  }
  byIdentity.set(schema, validate)
  return validate
}

const pointer = (path: string): Array<string | number> =>
  path === ""
    ? []
    : path
        .slice(1)
        .split("/")
        .map((segment) => segment.replace(/~1/g, "/").replace(/~0/g, "~"))
        .map((segment) => (/^\d+$/.test(segment) ? Number(segment) : segment))

/** A short rendering of a found value. */
export const describeValue = (value: unknown): string => {
  if (value === undefined) return "nothing"
  if (Array.isArray(value)) return "a list"
  if (value !== null && typeof value === "object") return "a mapping"
  const text = JSON.stringify(value)
  return text.length > 60 ? `${text.slice(0, 57)}...` : text
}

/** What a (sub)schema asks for, in a few words: `integer`, `string or object`, `one of "a", "b"`. */
const describeSchema = (schema: unknown): string | undefined => {
  if (!Predicate.isObject(schema)) return undefined
  const s = schema
  if ("const" in s) return JSON.stringify(s["const"])
  if (Array.isArray(s["enum"])) return `one of ${s["enum"].map((value) => JSON.stringify(value)).join(", ")}`
  if (typeof s["type"] === "string") return s["type"]
  if (Array.isArray(s["type"])) return s["type"].join(" or ")
  const branches = Array.isArray(s["anyOf"]) ? s["anyOf"] : Array.isArray(s["oneOf"]) ? s["oneOf"] : undefined
  if (branches !== undefined) {
    const described = branches.map(describeSchema)
    return described.every((text) => text !== undefined) ? [...new Set(described)].join(" or ") : undefined
  }
  if (typeof s["$ref"] === "string") return s["$ref"].slice(s["$ref"].lastIndexOf("/") + 1).replace(/~1/g, "/")
  return undefined
}

const problemOf = (error: ErrorObject): SchemaProblem => {
  const instance = pointer(error.instancePath)
  const found = describeValue(error.data)
  switch (error.keyword) {
    case "required": {
      const missing = String(error.params["missingProperty"])
      const properties: unknown = error.parentSchema?.["properties"]
      const expected = Predicate.isObject(properties) ? describeSchema(properties[missing]) : undefined
      return {
        path: [...instance, missing],
        instance,
        keyword: error.keyword,
        message: `missing required field "${missing}"${expected === undefined ? "" : ` (expected ${expected})`}`
      }
    }
    case "additionalProperties": {
      const extra = String(error.params["additionalProperty"])
      return { path: [...instance, extra], instance, keyword: error.keyword, message: `unknown field "${extra}"` }
    }
    case "type":
      return {
        path: instance,
        instance,
        keyword: error.keyword,
        message: `expected ${String(error.params["type"]).split(",").join(" or ")}, found ${found}`
      }
    case "anyOf":
    case "oneOf":
    case "enum":
    case "const": {
      const expected = describeSchema(error.parentSchema)
      return {
        path: instance,
        instance,
        keyword: error.keyword,
        message: `expected ${expected ?? "a value matching one of the allowed schemas"}, found ${found}`
      }
    }
    default:
      return { path: instance, instance, keyword: error.keyword, message: `${error.message ?? "invalid value"}, found ${found}` }
  }
}

/**
 * Every way `value` does not match `schema`, one per failing keyword; inside
 * an `anyOf`/`oneOf` only the alternative as a whole is reported, not each
 * branch's complaints. `undefined` when the schema cannot be compiled.
 */
export const schemaProblems = (schema: Schema, value: unknown): ReadonlyArray<SchemaProblem> | undefined => {
  const validate = compile(schema)
  if (validate === null) return undefined
  if (validate(value)) return []
  return (validate.errors ?? [])
    .filter((error) => !/\/(anyOf|oneOf)\/\d+(\/|$)/.test(error.schemaPath))
    .filter((error) => error.keyword !== "if")
    .map(problemOf)
}
