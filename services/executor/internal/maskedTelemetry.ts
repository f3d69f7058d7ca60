/**
 * Masking secrets out of what a stage emits while it holds them: its logs
 * (messages, causes and log annotations, for whatever loggers are installed,
 * the span-event logger included) and its spans (names, attributes, events
 * and the exit a span ends with, which tracers turn into a status message).
 * The executor runs a task that resolved secrets under `withMasking`; a
 * process plugin's stderr lines, forwarded as logs of the task, pass through
 * the same loggers.
 */
import { Cause, Effect, Exit, Logger, References, Tracer } from "effect"
import { type Mask, maskValue } from "@switchyard/schemas/SecretMask"

/** A cause with every error and defect masked (interruptions kept). */
export const maskCause = <E>(cause: Cause.Cause<E>, mask: Mask): Cause.Cause<unknown> =>
  cause.reasons.length === 0
    ? cause
    : Cause.fromReasons(
        cause.reasons.map((reason): Cause.Reason<unknown> =>
          Cause.isFailReason(reason)
            ? Cause.makeFailReason(maskValue(reason.error, mask))
            : Cause.isDieReason(reason)
              ? Cause.makeDieReason(maskValue(reason.defect, mask))
              : reason
        )
      )

const maskExit = (exit: Exit.Exit<unknown, unknown>, mask: Mask): Exit.Exit<unknown, unknown> =>
  Exit.isSuccess(exit) ? Exit.succeed(maskValue(exit.value, mask)) : Exit.failCause(maskCause(exit.cause, mask))

/** One logger that hands every record, masked, to `loggers`. */
export const maskedLogger = (loggers: Iterable<Logger.Logger<unknown, unknown>>, mask: Mask): Logger.Logger<unknown, void> => {
  const targets = Array.from(loggers)
  return Logger.make((options) => {
    const annotations = maskValue(options.fiber.getRef(References.CurrentLogAnnotations), mask) as Record<string, unknown>
    // Loggers read annotations from the fiber: they see this view of it, which differs only there.
    const fiber = Object.create(options.fiber, {
      getRef: {
        value: (reference: unknown) =>
          reference === References.CurrentLogAnnotations
            ? annotations
            : options.fiber.getRef(reference as typeof References.CurrentLogAnnotations)
      }
    }) as typeof options.fiber
    const masked = { ...options, message: maskValue(options.message, mask), cause: maskCause(options.cause, mask), fiber }
    for (const logger of targets) logger.log(masked)
  })
}

const maskedSpan = (span: Tracer.Span, mask: Mask): Tracer.Span => ({
  _tag: "Span",
  get name() {
    return span.name
  },
  get spanId() {
    return span.spanId
  },
  get traceId() {
    return span.traceId
  },
  get parent() {
    return span.parent
  },
  get annotations() {
    return span.annotations
  },
  get status() {
    return span.status
  },
  get attributes() {
    return span.attributes
  },
  get links() {
    return span.links
  },
  get sampled() {
    return span.sampled
  },
  get kind() {
    return span.kind
  },
  end: (endTime, exit) => span.end(endTime, maskExit(exit, mask)),
  attribute: (key, value) => span.attribute(mask(key), maskValue(value, mask)),
  event: (name, startTime, attributes) =>
    span.event(mask(name), startTime, attributes === undefined ? undefined : (maskValue(attributes, mask) as Record<string, unknown>)),
  addLinks: (links) => span.addLinks(links)
})

/** A tracer whose spans mask what is written to them, delegating to `tracer`. */
export const maskedTracer = (tracer: Tracer.Tracer, mask: Mask): Tracer.Tracer =>
  Tracer.make({
    span: (options) => maskedSpan(tracer.span({ ...options, name: mask(options.name) }), mask),
    ...(tracer.context === undefined ? {} : { context: tracer.context.bind(tracer) })
  })

/** Runs `effect` with its logs and spans masked (a span of its own, so span annotations land on a masked span). */
export const withMasking =
  (mask: Mask, span: { readonly name: string; readonly attributes: Record<string, unknown> }) =>
  <A, E, R>(effect: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> =>
    Effect.gen(function* () {
      const loggers = yield* References.CurrentLoggers
      const tracer = yield* Effect.tracer
      return yield* effect.pipe(
        Effect.withSpan(span.name, { attributes: span.attributes }, { captureStackTrace: false }),
        Effect.withTracer(maskedTracer(tracer, mask)),
        Effect.provideService(References.CurrentLoggers, new Set([maskedLogger(loggers, mask)]))
      )
    })
