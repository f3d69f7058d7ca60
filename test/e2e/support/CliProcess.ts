/**
 * The `switchyard` command line as real child processes, for end-to-end
 * tests: each process runs `node services/cli/main.ts ...` with the Node
 * that runs the tests (in the repository root unless told otherwise), keeps what it wrote to stdout and stderr, and lives
 * as long as the test's scope (stopped with SIGTERM, then SIGKILL). A test
 * can kill one itself (SIGKILL, as a crash would) and wait for its exit or
 * for a line in its log. When the scope closes on a failure, each process's
 * last stderr lines are printed, so a failed test shows what the services saw.
 */
import { type ChildProcess, spawn } from "node:child_process"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { fileURLToPath } from "node:url"
import { Deferred, Duration, Effect, Exit } from "effect"
import type { Scope } from "effect"
import { eventually } from "../../support/eventually.ts"
import type { EventuallyOptions, EventuallyTimeoutError } from "../../support/eventually.ts"

/** The repository root; child processes run there. */
export const repoRoot = fileURLToPath(new URL("../../../", import.meta.url))

/** The CLI entry point, run by Node directly (type stripping, no build). */
export const cliMain = fileURLToPath(new URL("../../../services/cli/main.ts", import.meta.url))

/** How a process ended. */
export interface Exited {
  readonly code: number | null
  readonly signal: NodeJS.Signals | null
}

/** A running (or finished) `switchyard` process. */
export interface CliProcess {
  /** Names the process in failure reports, e.g. `executor-a`. */
  readonly label: string
  readonly pid: number
  /** Everything written to stdout so far. */
  readonly stdout: () => string
  /** Everything written to stderr so far (the logs). */
  readonly stderr: () => string
  /** Whether the process has not exited yet. */
  readonly running: () => boolean
  /** Waits for the process to exit. */
  readonly exited: Effect.Effect<Exited>
  /** Sends `signal` (SIGKILL unless told) and waits for the exit. */
  readonly kill: (signal?: NodeJS.Signals) => Effect.Effect<Exited>
  /** Waits until a stderr line matches `pattern` (90 seconds unless told); returns that line. */
  readonly logged: (pattern: string | RegExp, options?: EventuallyOptions) => Effect.Effect<string, EventuallyTimeoutError>
}

/** What `spawnCli` takes. */
export interface SpawnOptions {
  readonly label: string
  /** Arguments after `switchyard`, e.g. `["executor", "--pool", "hello"]`. */
  readonly args: ReadonlyArray<string>
  /** Variables over the test's environment (whose own `SWITCHYARD_*` are dropped). */
  readonly env?: Readonly<Record<string, string>>
  /** Where the process runs (its project folder). @default the repository root */
  readonly cwd?: string
  /** Another Node script to run instead of the CLI, e.g. an example service. @default services/cli/main.ts */
  readonly script?: string
}

// Node's compile cache, shared by every process a test starts, saves a good part of each start.
const compileCache = join(tmpdir(), "switchyard-e2e-compile-cache")

/**
 * How long a service process may take to show it is ready (a log line, an
 * answer over the bus). Generous: a loaded 2-core machine starts several Node
 * processes at once far slower than an idle one, and a readiness wait returns
 * as soon as the signal comes, so only a real failure waits this long.
 */
export const readyTimeout = { timeout: "90 seconds", interval: "100 millis" } as const

const gracefulStop = Duration.seconds(5)
const tailLines = 40

// The test runner's own SWITCHYARD_* settings must not leak into the processes under test.
const baseEnv = (): Record<string, string> =>
  Object.fromEntries(
    Object.entries(process.env).filter((entry): entry is [string, string] => entry[1] !== undefined && !entry[0].startsWith("SWITCHYARD_"))
  )

const matches = (line: string, pattern: string | RegExp) => (typeof pattern === "string" ? line.includes(pattern) : pattern.test(line))

const tail = (text: string) => text.trimEnd().split("\n").slice(-tailLines).join("\n")

const signalAndWait = (child: ChildProcess, exited: Effect.Effect<Exited>, signal: NodeJS.Signals) =>
  Effect.suspend(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill(signal)
    return exited
  })

/** Starts `node services/cli/main.ts <args>` (or `script`); it is stopped when the current scope closes. */
export const spawnCli = (options: SpawnOptions): Effect.Effect<CliProcess, never, Scope.Scope> =>
  Effect.acquireRelease(
    Effect.gen(function* () {
      const done = yield* Deferred.make<Exited>()
      let out = ""
      let err = ""
      const child = spawn(process.execPath, [options.script ?? cliMain, ...options.args], {
        cwd: options.cwd ?? repoRoot,
        env: { NODE_COMPILE_CACHE: compileCache, ...baseEnv(), ...options.env },
        stdio: ["ignore", "pipe", "pipe"]
      })
      child.stdout!.setEncoding("utf8").on("data", (chunk: string) => void (out += chunk))
      child.stderr!.setEncoding("utf8").on("data", (chunk: string) => void (err += chunk))
      // `close` fires after the pipes are drained, so stdout is complete once `exited` resolves.
      child.once("close", (code, signal) => Deferred.doneUnsafe(done, Exit.succeed({ code, signal })))
      child.once("error", (error) => {
        err += `\n[spawn error] ${error.message}\n`
        Deferred.doneUnsafe(done, Exit.succeed({ code: null, signal: null }))
      })
      const exited = Deferred.await(done)
      const stderr = () => err
      const cli: CliProcess = {
        label: options.label,
        pid: child.pid ?? -1,
        stdout: () => out,
        stderr,
        running: () => child.exitCode === null && child.signalCode === null,
        exited,
        kill: (signal = "SIGKILL") => signalAndWait(child, exited, signal),
        logged: (pattern, waitOptions) =>
          eventually(
            `${options.label} logs ${String(pattern)}`,
            Effect.suspend(() => {
              const line = stderr()
                .split("\n")
                .find((candidate) => matches(candidate, pattern))
              if (line !== undefined) return Effect.succeed(line)
              // What the deadline error prints: whether the process still runs and its last lines.
              const state = child.exitCode === null && child.signalCode === null ? "running" : "exited"
              return Effect.fail(`no such line yet (process ${state}); stderr ends with:\n${tail(stderr()) || "(nothing)"}`)
            }),
            waitOptions ?? readyTimeout
          )
      }
      return { cli, child }
    }),
    ({ child, cli }, exit) =>
      Effect.gen(function* () {
        const stopped = yield* signalAndWait(child, cli.exited, "SIGTERM").pipe(Effect.timeoutOption(gracefulStop))
        if (stopped._tag === "None") yield* signalAndWait(child, cli.exited, "SIGKILL")
        if (Exit.isFailure(exit)) {
          yield* Effect.sync(() =>
            console.error(`--- ${cli.label} (pid ${cli.pid}) stderr, last ${tailLines} lines ---\n${tail(cli.stderr())}`)
          )
        }
      })
  ).pipe(Effect.map(({ cli }) => cli))

/** The outcome of a command run to its end. */
export interface Finished extends Exited {
  readonly stdout: string
  readonly stderr: string
}

/** Runs a command to its end (failing the test if it takes longer than `timeout`, 90 seconds unless told). */
export const runCli = (options: SpawnOptions & { readonly timeout?: Duration.Input }): Effect.Effect<Finished, never, Scope.Scope> =>
  Effect.gen(function* () {
    const cli = yield* spawnCli(options)
    const exited = yield* cli.exited.pipe(
      Effect.timeoutOrElse({
        duration: options.timeout ?? readyTimeout.timeout,
        orElse: () => Effect.die(new Error(`${options.label} did not exit in time; stderr:\n${tail(cli.stderr())}`))
      })
    )
    return { ...exited, stdout: cli.stdout(), stderr: cli.stderr() }
  })
