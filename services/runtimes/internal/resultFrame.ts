/**
 * Finds and decodes the one framed result line in a plugin process's stdout;
 * every other stdout line is ignored.
 */
import { Result, Schema } from "effect"
import type { ResultFrame } from "@switchyard/schemas/WorkerProtocol"
import { ResultFrame as ResultFrameSchema, resultFrameMarker } from "@switchyard/schemas/WorkerProtocol"

const decodeFrame = Schema.decodeUnknownResult(Schema.fromJsonString(ResultFrameSchema))

/** The decoded frame, or why there is none. */
export const parseResultFrame = (stdout: string): Result.Result<ResultFrame, string> => {
  const line = stdout.split("\n").find((text) => text.startsWith(resultFrameMarker))
  if (line === undefined) return Result.fail("no result frame on stdout")
  const decoded = decodeFrame(line.slice(resultFrameMarker.length))
  return Result.isSuccess(decoded) ? Result.succeed(decoded.success) : Result.fail(`invalid result frame: ${decoded.failure.message}`)
}
