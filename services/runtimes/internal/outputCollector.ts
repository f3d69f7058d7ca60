/**
 * Collects a one-shot plugin process's stdout and stderr: stdout is buffered
 * up to a byte limit (for the result frame), stderr is split into lines,
 * kept as a bounded tail for failure messages and handed to `onLine` for
 * forwarding.
 */
import { makeLineSplitter, makeTail } from "./lines.ts"

/** The collected streams of one plugin process. */
export interface OutputCollector {
  readonly onStdout: (chunk: Buffer) => void
  readonly onStderr: (chunk: Buffer) => void
  /** Flushes a final stderr line without a newline. */
  readonly finish: () => void
  readonly stdout: () => string
  readonly stderrTail: () => ReadonlyArray<string>
  readonly overflowed: () => boolean
}

/** Makes a collector; `onOverflow` runs once, when stdout passes `maxOutputBytes`. */
export const makeOutputCollector = (options: {
  readonly maxOutputBytes: number
  readonly onOverflow: () => void
  readonly onLine: (line: string) => void
}): OutputCollector => {
  const chunks: Array<Buffer> = []
  let stdoutBytes = 0
  let overflow = false
  const tail = makeTail()
  const stderr = makeLineSplitter((text) => {
    if (text === "") return
    tail.add(text)
    options.onLine(text)
  })

  return {
    onStdout: (chunk) => {
      if (overflow) return
      stdoutBytes += chunk.length
      if (stdoutBytes > options.maxOutputBytes) {
        overflow = true
        chunks.length = 0
        options.onOverflow()
        return
      }
      chunks.push(chunk)
    },
    onStderr: stderr.push,
    finish: stderr.flush,
    stdout: () => Buffer.concat(chunks).toString("utf8"),
    stderrTail: tail.lines,
    overflowed: () => overflow
  }
}
