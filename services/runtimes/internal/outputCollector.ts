/**
 * Collects a plugin process's stdout and stderr: stdout is buffered up to a
 * byte limit (for the result frame), stderr is split into lines, kept as a
 * bounded tail for failure messages and handed to `onLine` for forwarding.
 */

/** Lines of stderr kept for failure messages. */
export const stderrTailLines = 20

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
  let pending = ""
  const tail: Array<string> = []

  const line = (text: string) => {
    if (text === "") return
    tail.push(text)
    if (tail.length > stderrTailLines) tail.shift()
    options.onLine(text)
  }

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
    onStderr: (chunk) => {
      const lines = (pending + chunk.toString("utf8")).split("\n")
      pending = lines.pop() ?? ""
      lines.forEach(line)
    },
    finish: () => {
      line(pending)
      pending = ""
    },
    stdout: () => Buffer.concat(chunks).toString("utf8"),
    stderrTail: () => tail,
    overflowed: () => overflow
  }
}
