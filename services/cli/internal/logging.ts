/**
 * Where and how much the CLI logs: always to stderr (stdout carries the
 * command's own output), as JSON lines carrying the current trace and span
 * or as logfmt (`SWITCHYARD_LOG_FORMAT`; the services default to JSON, the
 * other commands to logfmt), from the global `--log-level` flag up, else
 * from `SWITCHYARD_LOG_LEVEL` (each command picks its default).
 */
import { Config, Effect, Layer, Logger, Option, References } from "effect"
import type { LogLevel } from "effect"
import { GlobalFlag } from "effect/cli"
import { formatJsonWithTrace } from "../../telemetry/Logs.ts"

const levels = ["All", "Trace", "Debug", "Info", "Warn", "Error", "Fatal", "None"] as const

// As the `--log-level` flag does: any case, and `warning` for `Warn`.
const spellings = [...levels, "Warning"].flatMap((level) => [level, level.toLowerCase(), level.toUpperCase()])
const canonical = (spelled: string): LogLevel.LogLevel => {
  const lower = spelled.toLowerCase()
  return lower === "warning" ? "Warn" : levels.find((level) => level.toLowerCase() === lower)!
}
const formats = ["json", "logfmt", "JSON", "LOGFMT"]

/** How log lines are written. */
export type LogFormat = "json" | "logfmt"

/** Logging for a command whose defaults are `defaultLevel` and `defaultFormat`. */
export const loggingLayer = (defaultLevel: LogLevel.LogLevel, defaultFormat: LogFormat = "logfmt") =>
  Layer.unwrap(
    Effect.gen(function* () {
      // The command runner sets the minimum level from `--log-level` around the handler; the
      // layer sets it again inside, so it must prefer the flag over the environment and default.
      const flag = Option.flatten(yield* Effect.serviceOption(GlobalFlag.LogLevel))
      const level = Option.isSome(flag)
        ? flag.value
        : yield* Config.Literals(spellings, "SWITCHYARD_LOG_LEVEL").pipe(Config.map(canonical), Config.withDefault(defaultLevel))
      const format = yield* Config.Literals(formats, "SWITCHYARD_LOG_FORMAT").pipe(
        Config.map((spelled) => spelled.toLowerCase()),
        Config.withDefault(defaultFormat)
      )
      return Layer.mergeAll(
        Logger.layer([Logger.withConsoleError(format === "json" ? formatJsonWithTrace : Logger.formatLogFmt)]),
        Layer.succeed(References.MinimumLogLevel, level)
      )
    })
  )
