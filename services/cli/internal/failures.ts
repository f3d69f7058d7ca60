/**
 * How a command's failure reaches the user: one line on stderr saying what
 * failed, where, and what to do about it (start nats-server, start the
 * scheduler, mark a module as ESM), with the stack and the full cause only at
 * `--log-level debug`. Failures a command already printed itself carry
 * `Runtime.errorReported = false` and pass through untouched.
 */
import { Cause, Config, Console, Effect, Predicate, References, Runtime, Schema } from "effect"
import type { LogLevel } from "effect"
import { BusError, NoRespondersError } from "@switchyard/bus/BusError"
import { Subjects } from "@switchyard/schemas/Subjects"
import type { Names } from "@switchyard/schemas/Subjects"
import { StageModuleError } from "./stageModuleError.ts"
import { type LogFormat, loggingLayer } from "./logging.ts"

/** A command failed and its one-line reason is on stderr: exit code 1. */
export class CommandFailedError extends Schema.TaggedError<CommandFailedError>()("CommandFailedError", {
  reason: Schema.String
}) {
  override readonly [Runtime.errorExitCode] = 1
  override readonly [Runtime.errorReported] = false
}

const reported = (error: unknown): boolean => Predicate.hasProperty(error, Runtime.errorReported) && error[Runtime.errorReported] === false

// Which service answers a request subject, and how to start it.
const serviceOn = (names: Names, subject: string): string | undefined => {
  if (subject === names.runSubmit || subject === names.runCancel) return "scheduler"
  if (subject === names.stageList || subject === names.stageResolve) return "registry"
  return undefined
}

/** The one line that explains `error` to someone at a terminal. */
export const describeFailure = (error: unknown, names: Names): string => {
  if (error instanceof BusError && error.operation === "connect") {
    const why = error.code === "CONNECTION_REFUSED" ? "connection refused" : error.message
    return `cannot reach NATS at ${error.subject ?? "the given URL"}: ${why}; start nats-server (with -js) or pass --nats URL`
  }
  if (error instanceof NoRespondersError) {
    const service = serviceOn(names, error.subject)
    return service === undefined
      ? `nothing answers on ${error.subject}`
      : `no ${service} answers on ${error.subject}: start \`switchyard ${service} --nats URL\``
  }
  if (error instanceof StageModuleError) return `${error.path}: ${error.message}`
  if (error instanceof Config.ConfigError) {
    // A setting from the environment (or a flag's fallback) that does not parse; the text names the variable.
    return `invalid setting: ${String(error.cause.message).replace(/\s+/g, " ")}`
  }
  if (error instanceof Error) {
    const tag = Predicate.hasProperty(error, "_tag") && Predicate.isString(error._tag) ? error._tag : error.name
    return `${tag}: ${error.message}`
  }
  return String(error)
}

const debugLevels: ReadonlyArray<LogLevel.LogLevel> = ["All", "Trace", "Debug"]

/**
 * Prints a failure of `effect` as one line (and its full cause when the
 * minimum log level is Debug or lower) and fails with `CommandFailedError`.
 */
export const reportFailures = <A, E, R>(effect: Effect.Effect<A, E, R>): Effect.Effect<A, E | CommandFailedError, R> =>
  Effect.catchCause(effect, (cause) =>
    Effect.gen(function* () {
      if (Cause.hasInterruptsOnly(cause)) return yield* Effect.failCause(cause)
      const error = Cause.squash(cause)
      if (reported(error)) return yield* Effect.failCause(cause)
      const names = yield* Subjects
      const reason = describeFailure(error, names)
      yield* Console.error(reason)
      if (debugLevels.includes(yield* References.MinimumLogLevel)) yield* Console.error(Cause.pretty(cause))
      return yield* new CommandFailedError({ reason })
    })
  )

/**
 * The frame of a command handler: failures reported as one line, under the
 * CLI's logging with `defaultLevel` unless `--log-level` or `SWITCHYARD_LOG_LEVEL` says otherwise,
 * in `defaultFormat` unless `SWITCHYARD_LOG_FORMAT` does.
 */
export const asCommand =
  (defaultLevel: LogLevel.LogLevel, defaultFormat: LogFormat = "logfmt") =>
  <A, E, R>(effect: Effect.Effect<A, E, R>) =>
    // The logging layer inside: a setting of its own that does not parse is reported like any failure.
    effect.pipe(Effect.provide(loggingLayer(defaultLevel, defaultFormat)), reportFailures)
