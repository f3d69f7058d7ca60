/**
 * Preloaded (`node --import`) into every process the corpus benchmark starts:
 * when the process exits it writes its peak resident set size, as the kernel
 * counted it (`process.resourceUsage().maxRSS`, the `VmHWM` of
 * /proc/<pid>/status, in KiB), and the CPU time it used (user and system, in
 * microseconds), as one line on stderr that the benchmark reads.
 * Nothing else; a process killed with SIGKILL writes nothing, and the
 * benchmark falls back on what it polled.
 */
import { writeSync } from "node:fs"

// The prefix `peakRssMarker` in corpusProcess.ts reads; this module exports nothing, since importing it installs the hook.
process.on("exit", () => {
  try {
    const usage = process.resourceUsage()
    writeSync(2, `\nswitchyard-bench-peak-rss-kib=${usage.maxRSS} cpu-us=${usage.userCPUTime + usage.systemCPUTime}\n`)
  } catch {
    // stderr already closed: the polled figure stands.
  }
})
