/**
 * Log lines as JSON, one object a line, with the trace and span they were
 * written in (`trace_id`, `span_id`, W3C hex) so a log line leads to its
 * trace; the rest is Effect's structured form (level, timestamp, message,
 * cause, annotations, log spans).
 */
import { Logger } from "effect"

/** Formats a record as one JSON line carrying `trace_id` and `span_id` when a span is current. */
export const formatJsonWithTrace = Logger.make((options) => {
  const structured = Logger.formatStructured.log(options)
  const span = options.fiber.cache.span
  return JSON.stringify(span === undefined ? structured : { ...structured, trace_id: span.traceId, span_id: span.spanId })
})
