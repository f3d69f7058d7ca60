/**
 * Preloaded (`node --import`) into every service the soak benchmark starts:
 * it reads commands from stdin, one per line, and answers on stderr with one
 * line the benchmark parses. `memory` answers with `process.memoryUsage()`
 * (after a full collection when the process runs with `--expose-gc`);
 * `snapshot <file>` writes a V8 heap snapshot there (the process pauses
 * while it does) and answers with the file. Stdin is unreferenced, so an
 * idle probe never keeps a stopping process alive.
 */
import { writeSync } from "node:fs"
import { createInterface } from "node:readline"
import { writeHeapSnapshot } from "node:v8"

/** What the probe's answers start with; `soakMemory.ts` reads it. */
const marker = "switchyard-soak-probe"

const answer = (fields: Record<string, string | number>) => {
  try {
    const text = Object.entries(fields)
      .map(([key, value]) => `${key}=${value}`)
      .join(" ")
    writeSync(2, `\n${marker} ${text}\n`)
  } catch {
    // stderr closed: the process is going away.
  }
}

const collect = (globalThis as { gc?: () => void }).gc

const lines = createInterface({ input: process.stdin })
lines.on("line", (line) => {
  const [command, argument] = line.trim().split(/\s+/, 2)
  if (command === "memory") {
    collect?.()
    const usage = process.memoryUsage()
    answer({
      memory: 1,
      rss: usage.rss,
      heapUsed: usage.heapUsed,
      heapTotal: usage.heapTotal,
      external: usage.external,
      arrayBuffers: usage.arrayBuffers
    })
  } else if (command === "snapshot" && argument !== undefined) {
    answer({ snapshot: writeHeapSnapshot(argument) })
  }
})
// An unreferenced stdin lets the process end as if the probe were not there.
;(process.stdin as { unref?: () => void }).unref?.()
