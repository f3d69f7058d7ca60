/**
 * Stage metadata: everything the scheduler needs to know about a stage type,
 * as data. Output application, counting and ordering all come from here, so a
 * new stage type never touches the registry, scheduler or executor.
 */
import { Schema } from "effect"
import { templateKeyPattern } from "./InputTemplate.ts"

/**
 * A secret key a stage type declares: the whole key, as `{{ secrets.KEY }}` names it (letters,
 * digits and `_`, not starting with a digit). A wildcard or any other pattern is refused: a
 * stage type receives exactly the secrets it names.
 */
export const SecretKey = Schema.String.pipe(
  Schema.check(
    Schema.isPattern(templateKeyPattern, {
      message:
        "expected a secret key named in full (letters, digits and _, not starting with a digit); wildcards and patterns are not accepted"
    })
  )
)

/** A JavaScript-style identifier, used for run-state keys. */
export const Identifier = Schema.String.pipe(
  Schema.check(
    Schema.isPattern(/^[A-Za-z_][A-Za-z0-9_]*$/u, { message: "expected an identifier (letters, digits, _; not starting with a digit)" })
  )
)

/** Semantic version `MAJOR.MINOR.PATCH[-pre][+build]`. */
export const SemVer = Schema.String.pipe(
  Schema.check(
    Schema.isPattern(
      /^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(?:-[0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*)?(?:\+[0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*)?$/u,
      { message: "expected a semantic version such as 1.2.3" }
    )
  )
)

/** A stage type name: `name`, `plugin.action` or `namespace/plugin.action`; each part a subject-safe token. */
export const StageTypeName = Schema.String.pipe(
  Schema.check(
    Schema.isPattern(/^(?:[a-z0-9][a-z0-9_-]*\/)?[a-z0-9][a-z0-9_-]*(?:\.[a-z0-9][a-z0-9_-]*)*$/u, {
      message: "expected a stage type such as ingest, hello.greet or acme/http.get (lower case letters, digits, _ and -)"
    })
  )
)

/** How a stage's output is applied to the run state. */
export const OutputMode = Schema.Literals(["set", "append", "merge", "unpack", "none"])
export type OutputMode = typeof OutputMode.Type

/** How a stage executes. */
export const Runtime = Schema.Literals(["inline", "process", "docker"])
export type Runtime = typeof Runtime.Type

/**
 * How outputs are counted: `none`, `one`, `length`, `length(path)`,
 * `field(path)`, or a sum of those joined with `+`.
 */
export const CountExpr = Schema.String.pipe(
  Schema.check(
    Schema.isPattern(
      /^\s*(none|one|length|length\([A-Za-z0-9_.]+\)|field\([A-Za-z0-9_.]+\))(\s*\+\s*(none|one|length|length\([A-Za-z0-9_.]+\)|field\([A-Za-z0-9_.]+\)))*\s*$/u,
      { message: "expected none, one, length, length(path), field(path) or a sum of those joined with +" }
    )
  )
)

/** What a stage needs from its host. */
export class Capabilities extends Schema.Class<Capabilities>("switchyard/Capabilities")({
  network: Schema.optionalKey(Schema.Boolean),
  mounts: Schema.optionalKey(
    Schema.Array(
      Schema.Struct({
        path: Schema.String,
        mode: Schema.Literals(["ro", "rw"])
      })
    )
  ),
  /** Secret keys, each named in full: no wildcard or pattern. */
  secrets: Schema.optionalKey(Schema.Array(SecretKey))
}) {}

/** JSON Schema document describing a stage's inputs or outputs. */
export const JsonSchemaDoc = Schema.Record(Schema.String, Schema.Json)

/** The metadata a stage type carries on the wire and in the registry. */
export class StageMetadata extends Schema.Class<StageMetadata>("switchyard/StageMetadata")({
  type: StageTypeName,
  version: SemVer,
  description: Schema.String,
  plugin: Schema.String,
  stateKey: Schema.NullOr(Schema.Union([Identifier, Schema.Array(Identifier)])),
  output: OutputMode,
  count: CountExpr,
  dependencies: Schema.Array(StageTypeName),
  inputs: Schema.optionalKey(JsonSchemaDoc),
  outputs: Schema.optionalKey(JsonSchemaDoc),
  runtime: Runtime,
  /** Milliseconds before the executor interrupts the stage. */
  timeoutMs: Schema.Int.pipe(Schema.check(Schema.isGreaterThan(0))),
  capabilities: Schema.optionalKey(Capabilities)
}) {}
