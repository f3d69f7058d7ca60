/**
 * Where and how much the CLI logs: always to stderr (stdout carries the
 * command's own output), as JSON lines or logfmt (`SWITCHYARD_LOG_FORMAT`),
 * from `SWITCHYARD_LOG_LEVEL` up (each command picks its default).
 */
import { Config, Effect, Layer, Logger, References } from "effect"
import type { LogLevel } from "effect"

const levels = ["All", "Trace", "Debug", "Info", "Warn", "Error", "Fatal", "None"] as const

/** Logging for a command whose default level is `defaultLevel`. */
export const loggingLayer = (defaultLevel: LogLevel.LogLevel) =>
  Layer.unwrap(
    Effect.gen(function* () {
      const level = yield* Config.Literals(levels, "SWITCHYARD_LOG_LEVEL").pipe(Config.withDefault(defaultLevel))
      const format = yield* Config.Literals(["json", "logfmt"], "SWITCHYARD_LOG_FORMAT").pipe(Config.withDefault("logfmt" as const))
      return Layer.mergeAll(
        Logger.layer([Logger.withConsoleError(format === "json" ? Logger.formatJson : Logger.formatLogFmt)]),
        Layer.succeed(References.MinimumLogLevel, level)
      )
    })
  )
