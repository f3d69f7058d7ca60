/**
 * Line handling for a plugin process's output streams: splitting chunks into
 * lines (a line may span chunks) and keeping the last lines of stderr for
 * failure messages.
 */

/** Lines of stderr kept for failure messages. */
export const stderrTailLines = 20

/** Splits a stream into lines; the text after the last newline waits for the next chunk or `flush`. */
export interface LineSplitter {
  readonly push: (chunk: Buffer) => void
  /** Hands over a final line without a newline, if any. */
  readonly flush: () => void
  /** Length of the line still waiting for its newline. */
  readonly pendingLength: () => number
  /** Whether the line still waiting for its newline starts with `prefix`. */
  readonly pendingStartsWith: (prefix: string) => boolean
}

/** A splitter calling `onLine` with each line, newline removed. */
export const makeLineSplitter = (onLine: (line: string) => void): LineSplitter => {
  let pending = ""
  return {
    push: (chunk) => {
      const text = pending + chunk.toString("utf8")
      let start = 0
      for (let end = text.indexOf("\n"); end !== -1; end = text.indexOf("\n", start)) {
        onLine(text.slice(start, end))
        start = end + 1
      }
      pending = text.slice(start)
    },
    flush: () => {
      const last = pending
      pending = ""
      if (last !== "") onLine(last)
    },
    pendingLength: () => pending.length,
    pendingStartsWith: (prefix) => pending.startsWith(prefix)
  }
}

/** The last `stderrTailLines` non-empty lines seen. */
export interface Tail {
  readonly add: (line: string) => void
  readonly lines: () => ReadonlyArray<string>
}

/** An empty tail. */
export const makeTail = (): Tail => {
  const kept: Array<string> = []
  return {
    add: (line) => {
      kept.push(line)
      if (kept.length > stderrTailLines) kept.shift()
    },
    lines: () => kept
  }
}
