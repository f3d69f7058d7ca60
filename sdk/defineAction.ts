/**
 * `defineAction`: how a plugin author writes an action of a process plugin.
 * The author gives a name, effect schemas for inputs and outputs, and a `run`
 * function that returns an Effect, a Promise or a plain value and receives a
 * `PluginContext` (structured logger on stderr, vars, declared secrets, a work
 * directory, an abort signal, task ids). The resulting `ActionDefinition`
 * decodes raw JSON input, runs the action, encodes its output and turns every
 * outcome into an `ActionResult` value. This module also owns the wire shapes
 * shared by the runner and the process runtime: the request read on stdin and
 * the framed result written on stdout.
 */
import { Cause, Effect, Predicate, Schema } from "effect"
import { describeIssue } from "../services/bus/Codec.ts"

/** Prefix of the one stdout line that carries the result; other stdout lines are ignored. */
export const resultFrameMarker = "\u001eswitchyard-result "

/** A structured logger writing one JSON line per entry to stderr. */
export interface PluginLogger {
  readonly info: (message: string, fields?: Record<string, unknown>) => void
  readonly warn: (message: string, fields?: Record<string, unknown>) => void
  readonly error: (message: string, fields?: Record<string, unknown>) => void
}

/** What an action receives besides its input. */
export interface PluginContext {
  readonly log: PluginLogger
  readonly vars: Readonly<Record<string, string>>
  /** Only the secrets the plugin's manifest declares. */
  readonly secrets: Readonly<Record<string, string>>
  /** A per-task directory, removed after the task. */
  readonly workDir: string
  /** Aborted on cancel and timeout. */
  readonly signal: AbortSignal
  readonly taskId: string
  readonly runId: string
  readonly attempt: number
}

/** The request a plugin process reads from stdin (one JSON document). */
export const ActionRequest = Schema.Struct({
  version: Schema.Literal(1),
  action: Schema.String,
  input: Schema.Unknown,
  taskId: Schema.String,
  runId: Schema.String,
  attempt: Schema.Number,
  vars: Schema.Record(Schema.String, Schema.String),
  secrets: Schema.Record(Schema.String, Schema.String),
  workDir: Schema.String
})
/** The request a plugin process reads from stdin. */
export type ActionRequest = typeof ActionRequest.Type

/** Why an action failed, as it crosses the process boundary. */
export const ActionError = Schema.Struct({
  tag: Schema.String,
  message: Schema.String,
  retryable: Schema.Boolean
})
/** Why an action failed. */
export type ActionError = typeof ActionError.Type

/** Prefix of the one stdout line that carries `runner --describe`'s answer. */
export const describeFrameMarker = "\u001eswitchyard-actions "

/** One exported action as `runner --describe` reports it: its name and the JSON Schemas derived from its effect schemas. */
export const ActionDescription = Schema.Struct({
  name: Schema.String,
  inputs: Schema.Record(Schema.String, Schema.Json),
  outputs: Schema.Record(Schema.String, Schema.Json)
})
/** One exported action as `runner --describe` reports it. */
export type ActionDescription = typeof ActionDescription.Type

/** What `runner --describe <module>` writes: the module's actions, or why it could not be imported. */
export const ModuleDescription = Schema.Union([
  Schema.Struct({ status: Schema.Literal("described"), actions: Schema.Array(ActionDescription) }),
  Schema.Struct({ status: Schema.Literal("failed"), error: ActionError })
])
/** What `runner --describe <module>` writes. */
export type ModuleDescription = typeof ModuleDescription.Type

/** The result of one action run: its JSON output, or why it failed. */
export const ActionResult = Schema.Union([
  Schema.Struct({ status: Schema.Literal("succeeded"), output: Schema.Unknown }),
  Schema.Struct({ status: Schema.Literal("failed"), error: ActionError })
])
/** The result of one action run. */
export type ActionResult = typeof ActionResult.Type

/** The framed result line with the runner's own measurements. */
export const ResultFrame = Schema.Struct({
  result: ActionResult,
  /** `process.resourceUsage().maxRSS` of the plugin process, in bytes. */
  peakMemoryBytes: Schema.optional(Schema.Number)
})
/** The framed result line. */
export type ResultFrame = typeof ResultFrame.Type

/** What `defineAction` takes. */
export interface ActionOptions<I, O, E> {
  /** The action name, e.g. `http.request`. */
  readonly name: string
  readonly description?: string
  /** Schema of the action's input (decoded from JSON). */
  readonly inputs: Schema.Codec<I, unknown>
  /** Schema of the action's output (encoded to JSON). */
  readonly outputs: Schema.Codec<O, unknown>
  /** The work: return an Effect, a Promise or a value. */
  readonly run: (input: I, ctx: PluginContext) => Effect.Effect<O, E> | PromiseLike<O> | O
}

/** An action of a process plugin, as exported by the plugin's module. */
export interface ActionDefinition<I = any, O = any> {
  readonly _tag: "ActionDefinition"
  readonly name: string
  readonly description: string
  readonly inputs: Schema.Codec<I, unknown>
  readonly outputs: Schema.Codec<O, unknown>
  /** Decodes `rawInput`, runs the action and encodes its output; never fails. */
  readonly execute: (rawInput: unknown, ctx: PluginContext) => Effect.Effect<ActionResult>
}

/** Whether a module export is an action. */
export const isActionDefinition = (value: unknown): value is ActionDefinition =>
  Predicate.hasProperty(value, "_tag") && value._tag === "ActionDefinition"

/** Defines an action of a process plugin. */
export const defineAction = <I, O, E = never>(options: ActionOptions<I, O, E>): ActionDefinition<I, O> => {
  const decodeInput = Schema.decodeUnknownEffect(Schema.toCodecJson(options.inputs))
  const encodeOutput = Schema.encodeUnknownEffect(Schema.toCodecJson(options.outputs))
  const name = options.name

  const runAction = (input: I, ctx: PluginContext): Effect.Effect<O, unknown> =>
    Effect.suspend(() => {
      const value = options.run(input, ctx)
      if (Effect.isEffect(value)) return value as Effect.Effect<O, E>
      if (Predicate.isPromiseLike(value)) {
        return Effect.tryPromise({ try: () => value as PromiseLike<O>, catch: (error) => error })
      }
      return Effect.succeed(value as O)
    })

  const execute = (rawInput: unknown, ctx: PluginContext): Effect.Effect<ActionResult> =>
    decodeInput(rawInput).pipe(
      Effect.matchEffect({
        onFailure: (error) => Effect.succeed(schemaFailure(name, "InvalidInputError", "input", error)),
        onSuccess: (input) =>
          runAction(input, ctx).pipe(
            Effect.matchCauseEffect({
              onFailure: (cause) => Effect.succeed(failedFrom(Cause.squash(cause))),
              onSuccess: (output) =>
                encodeOutput(output).pipe(
                  Effect.match({
                    onFailure: (error) => schemaFailure(name, "InvalidOutputError", "output", error),
                    onSuccess: (json): ActionResult => ({ status: "succeeded", output: json })
                  })
                )
            })
          )
      })
    )

  return {
    _tag: "ActionDefinition",
    name,
    description: options.description ?? "",
    inputs: options.inputs,
    outputs: options.outputs,
    execute
  }
}

/** A logger writing `{ level, message, ...fields }` JSON lines with `write` (stderr by default). */
export const makePluginLogger = (write: (line: string) => void = (line) => process.stderr.write(line)): PluginLogger => {
  const entry = (level: "info" | "warn" | "error") => (message: string, fields?: Record<string, unknown>) =>
    write(`${JSON.stringify({ ...fields, level, message })}\n`)
  return { info: entry("info"), warn: entry("warn"), error: entry("error") }
}

/** Turns anything an action failed with into an `ActionResult` failure. */
export const failedFrom = (error: unknown): ActionResult => {
  const tag =
    Predicate.hasProperty(error, "_tag") && Predicate.isString(error._tag)
      ? error._tag
      : error instanceof Error
        ? error.name
        : "ActionError"
  const message = error instanceof Error ? error.message : Predicate.isString(error) ? error : String(error)
  const retryable =
    Predicate.hasProperty(error, "retryable") && Predicate.isBoolean(error.retryable)
      ? error.retryable
      : Predicate.hasProperty(error, "isRetryable") && Predicate.isBoolean(error.isRetryable)
        ? error.isRetryable
        : false
  return { status: "failed", error: { tag, message, retryable } }
}

const schemaFailure = (
  action: string,
  tag: "InvalidInputError" | "InvalidOutputError",
  side: "input" | "output",
  error: Schema.SchemaError
): ActionResult => {
  const { message, path } = describeIssue(error.issue)
  return {
    status: "failed",
    // The same bytes give the same error on every attempt.
    error: { tag, message: `${action} ${side}${path === "" ? "" : ` at ${path}`}: ${message}`, retryable: false }
  }
}
