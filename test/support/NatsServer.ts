/**
 * Real nats-server processes for tests: started on an OS-assigned port with
 * JetStream in a fresh directory, reported ready once they accept
 * connections, and stopped (gracefully, or killed to simulate a crash) and
 * restarted on the same port and directory for restart and chaos tests, or
 * with that directory emptied first (a lost disk, an operator's reset).
 * The vitest global setup uses it for the shared server; a test that needs
 * its own server uses `NatsServer.scoped` so the process dies with the test.
 */
import { type ChildProcess, execFileSync, spawn } from "node:child_process"
import { existsSync } from "node:fs"
import { mkdir, mkdtemp, rm } from "node:fs/promises"
import { connect as tcpConnect } from "node:net"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { Effect, type Scope } from "effect"

/** Options of `startNatsServer`. */
export interface NatsServerOptions {
  /** JetStream store directory; a fresh temporary one (removed on stop) when absent. */
  readonly jetStreamDir?: string
  /** Port to listen on. @default OS-assigned */
  readonly port?: number
  /** Extra command-line arguments. */
  readonly args?: ReadonlyArray<string>
  /** How long to wait for the server to accept connections. @default 15000 */
  readonly readyTimeoutMs?: number
}

/** A running (or stopped, restartable) nats-server. */
export interface NatsServerHandle {
  /** `nats://127.0.0.1:<port>`; stays the same across restarts. */
  readonly url: string
  readonly port: number
  readonly jetStreamDir: string
  /** Whether the process is running. */
  readonly running: () => boolean
  /** Stops the server gracefully (SIGTERM, then SIGKILL after 5 s). Idempotent. */
  readonly stop: () => Promise<void>
  /** Kills the server at once (SIGKILL), as a crash would. */
  readonly kill: () => Promise<void>
  /**
   * Starts it again on the same port and JetStream directory (stopping it first if running); with
   * `wipe`, the directory is emptied in between, so the server comes back with no streams, consumers or buckets.
   */
  readonly restart: (options?: { readonly wipe?: boolean }) => Promise<void>
  /** Stops the server and removes its JetStream directory when this helper created it. */
  readonly dispose: () => Promise<void>
  /** The last lines the server logged. */
  readonly log: () => string
}

/** The nats-server binary: `$NATS_SERVER_BIN`, `/usr/sbin/nats-server`, or `nats-server` on the PATH. */
export const natsServerBinary = (): string =>
  process.env["NATS_SERVER_BIN"] ?? (existsSync("/usr/sbin/nats-server") ? "/usr/sbin/nats-server" : "nats-server")

/** What the server binary says of its version, such as `nats-server: v2.9.10`, for benchmark reports. */
export const natsServerVersion = (): string => {
  try {
    return execFileSync(natsServerBinary(), ["--version"], { encoding: "utf8" }).trim()
  } catch {
    return "nats-server (version unknown)"
  }
}

const listening = /Listening for client connections on [^\s]+:(\d+)/
const maxLogLines = 200

interface Running {
  readonly child: ChildProcess
  readonly exited: Promise<void>
}

const canConnect = (port: number): Promise<boolean> =>
  new Promise((resolve) => {
    const socket = tcpConnect({ host: "127.0.0.1", port })
    socket.once("connect", () => {
      socket.destroy()
      resolve(true)
    })
    socket.once("error", () => {
      socket.destroy()
      resolve(false)
    })
  })

const pause = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms))

/** Starts a nats-server with JetStream and resolves once it accepts connections. */
export const startNatsServer = async (options: NatsServerOptions = {}): Promise<NatsServerHandle> => {
  const ownsDir = options.jetStreamDir === undefined
  const jetStreamDir = options.jetStreamDir ?? (await mkdtemp(join(tmpdir(), "switchyard-nats-")))
  const logLines: Array<string> = []
  const readyTimeoutMs = options.readyTimeoutMs ?? 15_000
  let port = options.port ?? -1
  let current: Running | undefined

  const launch = async (): Promise<void> => {
    const args = ["-a", "127.0.0.1", "-p", String(port), "-js", "-sd", jetStreamDir, ...(options.args ?? [])]
    const child = spawn(natsServerBinary(), args, { stdio: ["ignore", "ignore", "pipe"] })
    const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()))
    current = { child, exited }
    const bound = new Promise<number>((resolve, reject) => {
      let buffered = ""
      child.stderr!.setEncoding("utf8")
      child.stderr!.on("data", (chunk: string) => {
        buffered += chunk
        const lines = buffered.split("\n")
        buffered = lines.pop() ?? ""
        for (const line of lines) {
          logLines.push(line)
          if (logLines.length > maxLogLines) logLines.shift()
          const match = listening.exec(line)
          if (match !== null) resolve(Number(match[1]))
        }
      })
      child.once("error", reject)
      child.once("exit", (code, signal) =>
        reject(new Error(`nats-server exited (${signal ?? code}) before listening:\n${logLines.join("\n")}`))
      )
    })
    let timer: NodeJS.Timeout | undefined
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new Error(`nats-server did not listen within ${readyTimeoutMs} ms:\n${logLines.join("\n")}`)),
        readyTimeoutMs
      )
    })
    port = await Promise.race([bound, timeout]).finally(() => clearTimeout(timer))
    const deadline = performance.now() + readyTimeoutMs
    while (!(await canConnect(port))) {
      if (performance.now() > deadline) throw new Error(`nats-server on port ${port} refuses connections`)
      await pause(10)
    }
  }

  const signal = async (name: NodeJS.Signals): Promise<void> => {
    const running = current
    if (running === undefined) return
    current = undefined
    if (running.child.exitCode === null && running.child.signalCode === null) {
      running.child.kill(name)
      const forced = setTimeout(() => running.child.kill("SIGKILL"), 5_000)
      await running.exited
      clearTimeout(forced)
    }
  }

  try {
    await launch()
  } catch (error) {
    await signal("SIGKILL")
    if (ownsDir) await rm(jetStreamDir, { recursive: true, force: true })
    throw error
  }

  return {
    url: `nats://127.0.0.1:${port}`,
    port,
    jetStreamDir,
    running: () => current !== undefined,
    stop: () => signal("SIGTERM"),
    kill: () => signal("SIGKILL"),
    restart: async (restartOptions) => {
      await signal("SIGTERM")
      if (restartOptions?.wipe === true) {
        await rm(jetStreamDir, { recursive: true, force: true })
        await mkdir(jetStreamDir, { recursive: true })
      }
      await launch()
    },
    dispose: async () => {
      await signal("SIGTERM")
      if (ownsDir) await rm(jetStreamDir, { recursive: true, force: true })
    },
    log: () => logLines.join("\n")
  }
}

/** A nats-server that lives as long as the current scope. */
export const scoped = (options: NatsServerOptions = {}): Effect.Effect<NatsServerHandle, never, Scope.Scope> =>
  Effect.acquireRelease(
    Effect.promise(() => startNatsServer(options)),
    (server) => Effect.promise(() => server.dispose())
  )
