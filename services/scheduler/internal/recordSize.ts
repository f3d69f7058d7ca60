/**
 * Whether a new run's record fits the runs bucket: a key-value entry is one
 * NATS message, so a record past the server's `max_payload` could never be
 * saved. `run.submit` refuses such a run with an issue instead of answering
 * that storage failed, which a caller would take for a passing fault.
 */
import { Option } from "effect"
import { byteLength } from "@switchyard/schemas/InputLimits"
import { PipelineIssue } from "@switchyard/schemas/Run"

/** Bytes of a message kept for its headers. */
const headerRoom = 1024

/** The issue of a record (as JSON) too large for one message, if it is. */
export const oversizedRecord = (options: {
  readonly file: string
  readonly json: string
  readonly maxPayload: Option.Option<number>
}): PipelineIssue | undefined => {
  if (Option.isNone(options.maxPayload)) return undefined
  const limit = options.maxPayload.value
  // The message carries the entry's headers too.
  const room = limit - headerRoom
  // A string has at least as many UTF-8 bytes as code units: the cheap test first.
  if (options.json.length <= room / 3) return undefined
  const bytes = byteLength(options.json)
  return bytes <= room
    ? undefined
    : new PipelineIssue({
        file: options.file,
        line: 1,
        column: 1,
        path: "",
        message: `expected a pipeline and inputs whose run record fits in one message of the runs bucket (the server's max_payload of ${limit} bytes, ${headerRoom} of them kept for headers), found a record of ${bytes} bytes`
      })
}
