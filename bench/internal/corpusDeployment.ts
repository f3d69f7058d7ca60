/**
 * A distributed Switchyard of separate processes for one measurement of the
 * corpus benchmark, as an operator starts it: a nats-server of its own
 * (JetStream in a fresh directory, OS-assigned port), `switchyard registry`,
 * `switchyard scheduler` and executor replicas of one pool, each its own
 * child. Ready once the registry logs that it serves, every replica that its
 * stage types were registered and the scheduler that it is ready (each
 * waited for with a deadline, never a fixed pause). Stopping it sends
 * SIGTERM to the services (SIGKILL after a grace period), reads their peak
 * RSS and removes the server with its store.
 */
import { readdirSync, readFileSync } from "node:fs"
import { startNatsServer, type NatsServerHandle } from "../../test/support/NatsServer.ts"
import { type Child, type ChildOptions, polledCpuSeconds, polledPeakRss, startChild } from "./corpusProcess.ts"

/** The pool every replica serves. */
export const corpusPool = "corpus"

/** A started deployment. */
export interface Deployment {
  readonly url: string
  readonly registry: Child
  readonly scheduler: Child
  readonly executors: ReadonlyArray<Child>
  /** Peak RSS of the nats-server so far (polled), in bytes. */
  readonly natsServerPeakRss: () => number | undefined
  /** CPU seconds the nats-server used so far, read now. */
  readonly natsServerCpuNow: () => number | undefined
  /** The first line each service logged at level ERROR, if any: its message and the first line of its cause. */
  readonly errors: () => ReadonlyArray<string>
  /** Stops every process and the server. */
  readonly stop: () => Promise<void>
}

/** The pid of the nats-server using `storeDir`, found by its command line. */
const natsServerPid = (storeDir: string): number | undefined => {
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue
    try {
      const argv = readFileSync(`/proc/${entry}/cmdline`, "utf8").split("\0")
      if (argv.some((arg) => arg.endsWith("nats-server")) && argv.includes(storeDir)) return Number(entry)
    } catch {
      // The process ended while the list was read.
    }
  }
  return undefined
}

/** The first line of a service log at level ERROR, by its message. */
const firstErrorLine = (log: string): string | undefined => {
  const line = log.split("\n").find((candidate) => /level=(ERROR|FATAL)/.test(candidate))
  if (line === undefined) return undefined
  const message = /message="((?:[^"\\]|\\.)*)"/.exec(line)?.[1] ?? line
  const cause = /cause="((?:[^"\\]|\\.)*)"/.exec(line)?.[1]?.split("\\n")[0]
  return cause === undefined ? message : `${message}: ${cause}`
}

/** Starts the server, the registry, the scheduler and `replicas` executors with `slots` each, and waits until they serve. */
export const startDeployment = async (options: {
  readonly replicas: number
  readonly slots?: number
  readonly readyTimeoutMs: number
  /** What every service's child gets besides its label and arguments (node options, a stdin pipe, a stderr reader). */
  readonly child?: (label: string) => Omit<ChildOptions, "label" | "args" | "script">
}): Promise<Deployment> => {
  const server: NatsServerHandle = await startNatsServer()
  const serverPid = natsServerPid(server.jetStreamDir)
  let serverPeak: number | undefined
  const pollServer = () => {
    const value = serverPid === undefined ? undefined : polledPeakRss(serverPid)
    if (value !== undefined) serverPeak = Math.max(serverPeak ?? 0, value)
  }
  const serverPoller = setInterval(pollServer, 200)
  const nats = ["--nats", server.url]
  const start = (label: string, args: ReadonlyArray<string>) => startChild({ ...options.child?.(label), label, args })
  const registry = start("registry", ["registry", ...nats])
  const scheduler = start("scheduler", ["scheduler", ...nats])
  const executors = Array.from({ length: options.replicas }, (_, index) =>
    start(`executor-${index + 1}`, [
      "executor",
      ...nats,
      "--pool",
      corpusPool,
      ...(options.slots === undefined ? [] : ["--slots", String(options.slots)])
    ])
  )
  const children = [registry, scheduler, ...executors]
  const stop = async () => {
    await Promise.all(children.map((child) => child.stop("SIGTERM")))
    pollServer()
    clearInterval(serverPoller)
    await server.dispose()
  }
  try {
    await registry.waitForLine(/registry ready/, options.readyTimeoutMs)
    await Promise.all(executors.map((executor) => executor.waitForLine(new RegExp(`for pool ${corpusPool}`), options.readyTimeoutMs)))
    await scheduler.waitForLine(/scheduler ready/, options.readyTimeoutMs)
  } catch (error) {
    await stop()
    throw error
  }
  return {
    url: server.url,
    registry,
    scheduler,
    executors,
    natsServerPeakRss: () => serverPeak,
    natsServerCpuNow: () => (serverPid === undefined ? undefined : polledCpuSeconds(serverPid)),
    errors: () =>
      children.flatMap((child) => {
        const line = firstErrorLine(child.stderrTail())
        return line === undefined ? [] : [`${child.label}: ${line}`]
      }),
    stop
  }
}
