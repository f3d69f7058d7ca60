/**
 * Forwards a plugin process's stderr lines as Effect logs with annotations
 * (a task's run and task ids): a structured JSON line (`{ level, message, ...fields }`, what
 * `ctx.log` writes) at its level with its fields, anything else as a plain
 * info line. Lines are queued by the process's stream callbacks and logged by
 * one fiber, so their order is kept.
 */
import { Cause, Effect, Fiber, Predicate, Queue, Result } from "effect"
import type { Scope } from "effect"

const logLevels = { info: Effect.logInfo, warn: Effect.logWarning, error: Effect.logError } as const

const forwardLine = (line: string): Effect.Effect<void> => {
  const parsed = Result.try(() => JSON.parse(line) as unknown)
  if (Result.isSuccess(parsed) && Predicate.isObject(parsed.success) && Predicate.hasProperty(parsed.success, "message")) {
    const { level, message, ...fields } = parsed.success as Record<string, unknown>
    const log = Predicate.isString(level) && level in logLevels ? logLevels[level as keyof typeof logLevels] : Effect.logInfo
    return log(String(message)).pipe(Effect.annotateLogs({ ...fields, source: "plugin" }))
  }
  return Effect.logInfo(line).pipe(Effect.annotateLogs({ source: "plugin", plain: true }))
}

/** A running forwarder. */
export interface LogForwarder {
  /** Queues a line; safe to call from stream callbacks. */
  readonly offer: (line: string) => void
  /** Logs what is queued, then stops. */
  readonly drain: Effect.Effect<void>
}

/** Starts a forwarder logging with `annotations`; it stops when `drain` runs or the scope closes. */
export const makeLogForwarder = (annotations: Readonly<Record<string, unknown>>): Effect.Effect<LogForwarder, never, Scope.Scope> =>
  Effect.gen(function* () {
    const lines = yield* Queue.unbounded<string, Cause.Done>()
    const fiber = yield* Queue.take(lines).pipe(
      Effect.flatMap(forwardLine),
      Effect.forever,
      Effect.ignore,
      Effect.annotateLogs(annotations),
      Effect.forkScoped
    )
    return {
      offer: (line) => void Queue.offerUnsafe(lines, line),
      drain: Queue.end(lines).pipe(Effect.andThen(Fiber.join(fiber)))
    }
  })
