/**
 * The processes of the corpus benchmark: `node` children run with the
 * workspace's TypeScript sources (`--conditions=@switchyard/source`), Node's
 * compile cache, the benchmark's environment without its `SWITCHYARD_*`
 * variables, and the peak-RSS hook preloaded. Each child's stdout is handed
 * over line by line (a `run --json` prints one event per line, the last one
 * with the whole final state, of which only the first megabyte is kept),
 * its stderr is kept as a bounded tail and can
 * be waited on for a line, and its peak RSS is the larger of what the hook
 * reports at exit and `VmHWM` polled from /proc while it runs.
 */
import { type ChildProcess, spawn } from "node:child_process"
import { readFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { fileURLToPath } from "node:url"

/** The repository root; children run there, so the pipeline's relative paths resolve. */
export const repoRoot = fileURLToPath(new URL("../../", import.meta.url))

/** The CLI entry point, run from its TypeScript source. */
export const cliMain = fileURLToPath(new URL("../../services/cli/main.ts", import.meta.url))

const peakRssHook = fileURLToPath(new URL("./corpusPeakRss.ts", import.meta.url))
/** What the hook's line starts with; the peak in KiB follows. */
const peakRssMarker = "switchyard-bench-peak-rss-kib="
const compileCache = join(tmpdir(), "switchyard-bench-compile-cache")
const tailBytes = 64 * 1024
const pollMs = 100

/** How a child ended. */
export interface Exited {
  readonly code: number | null
  readonly signal: NodeJS.Signals | null
}

/** What `startChild` takes. */
export interface ChildOptions {
  /** Names the process in tables and errors, e.g. `scheduler`. */
  readonly label: string
  /** The script to run. @default the CLI */
  readonly script?: string
  readonly args: ReadonlyArray<string>
  /** Called with each stdout line as it completes. */
  readonly onStdoutLine?: (line: string) => void
  /** Called with each stderr line as it completes (the peak-RSS line excepted). */
  readonly onStderrLine?: (line: string) => void
  /** Node options before the script, e.g. `--max-old-space-size=96` or another `--import`. */
  readonly nodeArgs?: ReadonlyArray<string>
  /** Gives the child a stdin pipe that `send` writes to. @default false */
  readonly stdin?: boolean
}

/** A running (or ended) child. */
export interface Child {
  readonly label: string
  readonly pid: number
  /** Resolves when the process has exited and its pipes are drained. */
  readonly exited: Promise<Exited>
  readonly running: () => boolean
  /** The last 64 KiB of stderr, without the peak-RSS line. */
  readonly stderrTail: () => string
  /** Peak RSS in bytes: the hook's figure when it wrote one, else the largest `VmHWM` polled. */
  readonly peakRss: () => number | undefined
  /** CPU seconds (user and system) used in all: the hook's figure when it wrote one, else the last polled. */
  readonly cpuSeconds: () => number | undefined
  /** CPU seconds used so far, read now from /proc (undefined once the process is gone). */
  readonly cpuNow: () => number | undefined
  /** Resolves with the first stderr line matching `pattern`; rejects after `timeoutMs` or when the process exits first. */
  readonly waitForLine: (pattern: RegExp, timeoutMs: number) => Promise<string>
  /** Sends `signal` and waits for the exit (SIGKILL after `graceMs` when it does not go). */
  readonly stop: (signal?: NodeJS.Signals, graceMs?: number) => Promise<Exited>
  /** Writes a line to the child's stdin (started with `stdin: true`); false when it cannot. */
  readonly send: (line: string) => boolean
}

// The benchmark's own SWITCHYARD_* settings must not change what the services do.
const childEnv = (): Record<string, string> => ({
  NODE_COMPILE_CACHE: compileCache,
  ...Object.fromEntries(
    Object.entries(process.env).filter((entry): entry is [string, string] => entry[1] !== undefined && !entry[0].startsWith("SWITCHYARD_"))
  )
})

// Clock ticks per second of /proc/<pid>/stat's times (USER_HZ, 100 on Linux).
const ticksPerSecond = 100

/** CPU time (user and system) a live process used so far, in seconds, or undefined when it is gone. */
export const polledCpuSeconds = (pid: number): number | undefined => {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8")
    // The command name (field 2) may hold spaces; fields count from after its closing parenthesis.
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ")
    return (Number(fields[11]) + Number(fields[12])) / ticksPerSecond
  } catch {
    return undefined
  }
}

/** `VmHWM` of a live process in bytes, or undefined when it is gone. */
export const polledPeakRss = (pid: number): number | undefined => {
  try {
    const match = /^VmHWM:\s+(\d+)\s+kB/m.exec(readFileSync(`/proc/${pid}/status`, "utf8"))
    return match === null ? undefined : Number(match[1]) * 1024
  } catch {
    return undefined
  }
}

/**
 * Splits a stream's chunks into lines, looking for the end of a line only in
 * the chunk that arrived; a line longer than `maxLine` characters is handed
 * over as its first `maxLine` characters (a final state of many megabytes is
 * read by its head).
 */
const lines = (onLine: (line: string) => void, maxLine = 1024 * 1024) => {
  let pending: Array<string> = []
  let pendingLength = 0
  const take = (piece: string) => {
    if (pendingLength >= maxLine) return
    const kept = piece.slice(0, maxLine - pendingLength)
    pending.push(kept)
    pendingLength += kept.length
  }
  const flush = () => {
    const line = pending.join("")
    pending = []
    pendingLength = 0
    onLine(line)
  }
  return {
    push: (chunk: string) => {
      let from = 0
      let newline = chunk.indexOf("\n")
      while (newline !== -1) {
        take(chunk.slice(from, newline))
        flush()
        from = newline + 1
        newline = chunk.indexOf("\n", from)
      }
      if (from < chunk.length) take(chunk.slice(from))
    },
    end: () => {
      if (pendingLength > 0) flush()
    }
  }
}

/** Starts `node <script> <args>` in the repository root. */
export const startChild = (options: ChildOptions): Child => {
  const child: ChildProcess = spawn(
    process.execPath,
    ["--conditions=@switchyard/source", "--import", peakRssHook, ...(options.nodeArgs ?? []), options.script ?? cliMain, ...options.args],
    { cwd: repoRoot, env: childEnv(), stdio: [options.stdin === true ? "pipe" : "ignore", "pipe", "pipe"] }
  )
  const pid = child.pid ?? -1
  let tail = ""
  let reportedKib: number | undefined
  let reportedCpuUs: number | undefined
  let polled: number | undefined
  let polledCpu: number | undefined
  const waiters = new Set<(line: string) => void>()
  const poll = () => {
    const value = polledPeakRss(pid)
    if (value !== undefined) polled = Math.max(polled ?? 0, value)
    polledCpu = polledCpuSeconds(pid) ?? polledCpu
  }
  poll()
  const poller = setInterval(poll, pollMs)

  const stderr = lines((line) => {
    if (line.startsWith(peakRssMarker)) {
      const [kib, cpu] = line.slice(peakRssMarker.length).split(" cpu-us=")
      reportedKib = Number(kib)
      if (cpu !== undefined) reportedCpuUs = Number(cpu)
      return
    }
    tail += `${line}\n`
    if (tail.length > tailBytes) tail = tail.slice(tail.length - tailBytes)
    options.onStderrLine?.(line)
    for (const waiter of waiters) waiter(line)
  })
  const stdout = lines((line) => options.onStdoutLine?.(line))
  // A write racing the child's exit must not end the benchmark.
  child.stdin?.on("error", () => {})
  child.stdout!.setEncoding("utf8").on("data", stdout.push)
  child.stderr!.setEncoding("utf8").on("data", stderr.push)

  const exited = new Promise<Exited>((resolve) => {
    child.once("error", (error) => {
      tail += `[spawn error] ${error.message}\n`
    })
    // `close` comes after the pipes are drained, so every line has been handed over.
    child.once("close", (code, signal) => {
      clearInterval(poller)
      stdout.end()
      stderr.end()
      resolve({ code, signal })
    })
  })
  const running = () => child.exitCode === null && child.signalCode === null

  const waitForLine = (pattern: RegExp, timeoutMs: number) => {
    const seen = tail.split("\n").find((line) => pattern.test(line))
    if (seen !== undefined) return Promise.resolve(seen)
    return new Promise<string>((resolve, reject) => {
      const done = () => {
        waiters.delete(onLine)
        clearTimeout(timer)
      }
      const onLine = (line: string) => {
        if (!pattern.test(line)) return
        done()
        resolve(line)
      }
      const timer = setTimeout(() => {
        done()
        reject(new Error(`${options.label} did not log ${pattern} within ${timeoutMs} ms; stderr ends with: ${lastLines(tail, 5)}`))
      }, timeoutMs)
      waiters.add(onLine)
      void exited.then((how) => {
        if (!waiters.has(onLine)) return
        done()
        reject(new Error(`${options.label} exited (${how.signal ?? how.code}) before logging ${pattern}: ${lastLines(tail, 5)}`))
      })
    })
  }

  const stop = async (signal: NodeJS.Signals = "SIGTERM", graceMs = 10_000): Promise<Exited> => {
    if (running()) child.kill(signal)
    const forced = setTimeout(() => {
      if (running()) child.kill("SIGKILL")
    }, graceMs)
    const how = await exited
    clearTimeout(forced)
    return how
  }

  return {
    label: options.label,
    pid,
    exited,
    running,
    stderrTail: () => tail,
    peakRss: () => (reportedKib !== undefined ? Math.max(reportedKib * 1024, polled ?? 0) : polled),
    cpuSeconds: () => (reportedCpuUs !== undefined ? reportedCpuUs / 1e6 : polledCpu),
    cpuNow: () => polledCpuSeconds(pid),
    waitForLine,
    stop,
    send: (line) => {
      const input = child.stdin
      if (input === null || input.destroyed || !running()) return false
      input.write(`${line}\n`)
      return true
    }
  }
}

/** The last `count` non-empty lines of `text`, joined with " | ". */
export const lastLines = (text: string, count: number): string =>
  text
    .split("\n")
    .filter((line) => line.trim() !== "")
    .slice(-count)
    .join(" | ") || "(nothing)"
