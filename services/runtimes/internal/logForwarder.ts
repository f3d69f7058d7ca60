/**
 * Forwards a plugin process's stderr lines as Effect logs with annotations
 * (a task's run and task ids): a structured JSON line (`{ level, message, ...fields }`, what
 * `ctx.log` writes) at its level with its fields, anything else as a plain
 * info line. Lines are queued by the process's stream callbacks and logged by
 * one fiber, so their order is kept. A line may carry annotations of its own
 * (a warm pool's forwarder serves every task of the pool).
 */
import { Cause, Deferred, Effect, Fiber, Predicate, Queue, Result } from "effect"
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
  /** Queues a line logged with these annotations too. */
  readonly offerAnnotated: (line: string, annotations: Readonly<Record<string, unknown>>) => void
  /** Completes once every line queued before it has been logged. */
  readonly flush: Effect.Effect<void>
  /** Logs what is queued, then stops. */
  readonly drain: Effect.Effect<void>
}

type Entry =
  | { readonly _tag: "Line"; readonly line: string; readonly annotations: Readonly<Record<string, unknown>> | undefined }
  | { readonly _tag: "Flush"; readonly logged: Deferred.Deferred<void> }

const forwardEntry = (entry: Entry): Effect.Effect<void> => {
  if (entry._tag === "Flush") return Effect.sync(() => void Deferred.doneUnsafe(entry.logged, Effect.void))
  const logged = forwardLine(entry.line)
  return entry.annotations === undefined ? logged : logged.pipe(Effect.annotateLogs(entry.annotations))
}

/** Starts a forwarder logging with `annotations`; it stops when `drain` runs or the scope closes. */
export const makeLogForwarder = (annotations: Readonly<Record<string, unknown>>): Effect.Effect<LogForwarder, never, Scope.Scope> =>
  Effect.gen(function* () {
    const entries = yield* Queue.unbounded<Entry, Cause.Done>()
    const fiber = yield* Queue.take(entries).pipe(
      Effect.flatMap(forwardEntry),
      Effect.forever,
      Effect.ignore,
      Effect.annotateLogs(annotations),
      Effect.forkScoped
    )
    return {
      offer: (line) => void Queue.offerUnsafe(entries, { _tag: "Line", line, annotations: undefined }),
      offerAnnotated: (line, lineAnnotations) => void Queue.offerUnsafe(entries, { _tag: "Line", line, annotations: lineAnnotations }),
      flush: Effect.suspend(() => {
        const logged = Deferred.makeUnsafe<void>()
        return Queue.offerUnsafe(entries, { _tag: "Flush", logged }) ? Deferred.await(logged) : Effect.void
      }),
      drain: Queue.end(entries).pipe(Effect.andThen(Fiber.join(fiber)))
    }
  })
