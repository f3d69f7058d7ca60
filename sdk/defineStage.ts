/**
 * `defineStage`: how a plugin author writes an inline stage type. The author
 * gives metadata, effect schemas for inputs and outputs, and a `run` function
 * that returns an Effect, a Promise or a plain value; the result is a
 * `StageDefinition` whose `execute` decodes raw JSON input, runs the stage,
 * encodes its output and maps every failure to a `StageFailure`. The JSON Schema of inputs and
 * outputs in the metadata is generated from the same schemas, so what the
 * registry advertises is what the stage accepts.
 */
import { Cause, Effect, Exit, Predicate, Result, Schema } from "effect"
import type { JsonSchema } from "effect"
import { describeIssue } from "@switchyard/schemas/Codec"
import type { Capabilities, OutputMode } from "@switchyard/schemas/StageMetadata"
import { StageMetadata } from "@switchyard/schemas/StageMetadata"
import type { StageContext, StageDefinition, StageTaskInfo } from "@switchyard/schemas/Stage"
import { StageFailure, StageOutcome, StageWaiting, waitingOf } from "@switchyard/schemas/Stage"

export * from "@switchyard/schemas/Stage"

/** The default stage timeout, in milliseconds. */
export const defaultStageTimeoutMs = 30_000

/** What `defineStage` takes. */
export interface StageOptions<I, O, E> {
  /** `name`, `plugin.action` or `namespace/plugin.action`. */
  readonly type: string
  /** Semantic version of this stage type. */
  readonly version: string
  readonly description: string
  readonly plugin: string
  /** Run-state slot(s) the output goes to; `null` for none. */
  readonly stateKey: string | ReadonlyArray<string> | null
  /** How the output is applied to the run state. */
  readonly output: OutputMode
  /** How outputs are counted: `none`, `one`, `length`, `length(path)`, `field(path)`, or a sum. */
  readonly count: string
  /** Stage types that must run earlier in any pipeline using this one. @default [] */
  readonly dependencies?: ReadonlyArray<string>
  /** Milliseconds before the executor interrupts the stage. @default 30000 */
  readonly timeout?: number
  readonly capabilities?: Capabilities
  /** Schema of the task's inputs (decoded from JSON). */
  readonly inputs: Schema.Codec<I, unknown>
  /** Schema of the stage's result (encoded to JSON). */
  readonly outputs: Schema.Codec<O, unknown>
  /** The work: return an Effect, a Promise or a value. */
  readonly run: (input: I, ctx: StageContext) => Effect.Effect<O, E> | PromiseLike<O> | O
}

/**
 * Defines an inline stage type. Metadata is checked by the registry when the
 * executor announces it (a bad field is a rejection with its path, not a
 * crash of the process that loads the plugin).
 */
export const defineStage = <I, O, E = never>(options: StageOptions<I, O, E>): StageDefinition<I, O> => {
  const inputCodec = Schema.toCodecJson(options.inputs)
  const outputCodec = Schema.toCodecJson(options.outputs)
  const decodeInput = Schema.decodeUnknownEffect(inputCodec)
  const encodeOutput = Schema.encodeUnknownEffect(outputCodec)
  const type = options.type

  const metadata = new StageMetadata(
    {
      type,
      version: options.version,
      description: options.description,
      plugin: options.plugin,
      stateKey: options.stateKey,
      output: options.output,
      count: options.count,
      dependencies: options.dependencies ?? [],
      inputs: jsonSchemaOf(options.inputs),
      outputs: jsonSchemaOf(options.outputs),
      runtime: "inline",
      timeoutMs: options.timeout ?? defaultStageTimeoutMs,
      ...(options.capabilities === undefined ? {} : { capabilities: options.capabilities })
    },
    { disableChecks: true }
  )

  // Interruption (timeout, shutdown) must stay an interruption; a `StageWaiting` is the stage's
  // answer that it waits (an outcome, below); everything else is the stage's failure.
  const toFailure = (cause: Cause.Cause<unknown>): Effect.Effect<never, StageFailure | StageWaiting> => {
    if (Cause.hasInterruptsOnly(cause)) return Effect.failCause(cause as Cause.Cause<never>)
    const error = Cause.squash(cause)
    return Effect.fail(error instanceof StageWaiting ? error : StageFailure.fromError(type, error))
  }

  // A stage that returns a value (or an already succeeded Effect) finishes here, with no fiber
  // step of its own; Effects and Promises get the interruption hook that aborts the signal.
  const runStage = (input: I, info: StageTaskInfo): Effect.Effect<O, StageFailure | StageWaiting> => {
    const signal = new LazySignal()
    const ctx: StageContext = {
      ...info,
      vars: info.vars ?? {},
      get signal() {
        return signal.get()
      }
    }
    const returned = Result.try({ try: () => options.run(input, ctx), catch: (error) => error })
    if (Result.isFailure(returned)) {
      const thrown = returned.failure
      return Exit.fail(thrown instanceof StageWaiting ? thrown : StageFailure.fromError(type, thrown))
    }
    const value = returned.success
    if (Effect.isEffect(value)) {
      const effect = value as Effect.Effect<O, E>
      if (Exit.isExit(effect) && Exit.isSuccess(effect)) return effect as Exit.Exit<O>
      return effect.pipe(
        Effect.onInterrupt(() => Effect.sync(() => signal.abort())),
        Effect.catchCause(toFailure)
      )
    }
    if (Predicate.isPromiseLike(value)) {
      return Effect.tryPromise({ try: () => value as PromiseLike<O>, catch: (error) => error }).pipe(
        Effect.onInterrupt(() => Effect.sync(() => signal.abort())),
        Effect.catchCause(toFailure)
      )
    }
    return Exit.succeed(value as O)
  }

  // Eager steps inside the suspension: a stage that never suspends completes in the fiber's first step.
  const startStage = (rawInput: unknown, info: StageTaskInfo): Effect.Effect<StageOutcome, StageFailure> =>
    Effect.flatMapEager(
      Effect.mapErrorEager(decodeInput(rawInput), (error) => schemaFailure(type, "InvalidInputError", "input", error)),
      (input) =>
        Effect.catchEager(
          Effect.flatMapEager(runStage(input, info), (output) =>
            Effect.mapBothEager(encodeOutput(output), {
              onFailure: (error) => schemaFailure(type, "InvalidOutputError", "output", error),
              onSuccess: (json) => StageOutcome.done(json as Schema.Json)
            })
          ),
          (error): Effect.Effect<StageOutcome, StageFailure> =>
            error instanceof StageWaiting ? Effect.succeed(StageOutcome.waiting(waitingOf(error))) : Effect.fail(error)
        )
    )

  const execute = (rawInput: unknown, info: StageTaskInfo): Effect.Effect<StageOutcome, StageFailure> =>
    Effect.suspend(() => startStage(rawInput, info))

  return { metadata, inputs: options.inputs, outputs: options.outputs, execute }
}

const schemaFailure = (
  stageType: string,
  tag: "InvalidInputError" | "InvalidOutputError",
  side: "input" | "output",
  error: Schema.SchemaError
): StageFailure => {
  const { message, path } = describeIssue(error.issue)
  return new StageFailure({
    stageType,
    tag,
    message: `${stageType} ${side}${path === "" ? "" : ` at ${path}`}: ${message}`,
    // The same bytes give the same error on every attempt.
    retryable: false,
    path
  })
}

/** A self-contained JSON Schema (draft 2020-12) with its definitions inlined under `$defs`. */
export const jsonSchemaOf = (schema: Schema.Top): { readonly [key: string]: Schema.Json } => {
  const document = Schema.toJsonSchemaDocument(schema)
  const definitions: JsonSchema.Definitions = document.definitions
  // Both parts are produced as JSON values by the generator.
  return {
    $schema: "https://json-schema.org/draft/2020-12/schema",
    ...document.schema,
    ...(Object.keys(definitions).length === 0 ? {} : { $defs: definitions })
  } as { readonly [key: string]: Schema.Json }
}

/** A task's abort signal, created only when the stage reads it. */
class LazySignal {
  private controller: AbortController | undefined = undefined
  private aborted = false

  get(): AbortSignal {
    if (this.controller === undefined) {
      this.controller = new AbortController()
      if (this.aborted) this.controller.abort()
    }
    return this.controller.signal
  }

  abort(): void {
    this.aborted = true
    this.controller?.abort()
  }
}
