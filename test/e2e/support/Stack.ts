/**
 * A distributed Switchyard made of real processes for end-to-end tests:
 * `switchyard registry`, `switchyard scheduler` and executor replicas of one
 * pool on a NATS server, each a child process of the test, started together
 * and reported ready only once each answers 200 on its `/readyz` (connected,
 * bound, stage types announced) and the scheduler answers requests (polled,
 * never slept on, with a deadline of 90 seconds that names what it last saw). Also `run`
 * invocations against it, with their `--json` events decoded.
 */
import { Context, Effect, Layer, Schema } from "effect"
import type { Duration } from "effect"
import type { Scope } from "effect"
import { RunEvent, type RunFinished } from "../../../schemas/Run.ts"
import * as NatsBus from "../../../services/bus/NatsBus.ts"
import { SwitchyardClient } from "../../../sdk/client.ts"
import { eventually } from "../../support/eventually.ts"
import { uniquePrefix } from "../../support/unique.ts"
import { type CliProcess, type Finished, readyTimeout, runCli, spawnCli } from "./CliProcess.ts"
import { isKind } from "../../support/events.ts"

/** What `startStack` takes. */
export interface StackOptions {
  readonly natsUrl: string
  /** The pool every replica serves. @default "hello" */
  readonly pool?: string
  /** Replicas to start, by label. @default ["a", "b"] */
  readonly replicas?: ReadonlyArray<string>
  /** `--slots` of each replica. @default 8 (the executor's own default) */
  readonly slots?: number
  /** Stage modules each replica serves besides the built-ins (`--module`). */
  readonly modules?: ReadonlyArray<string>
  /** Extra environment of the replicas, e.g. `SWITCHYARD_ACK_WAIT`. */
  readonly executorEnv?: Readonly<Record<string, string>>
  /** Extra environment of the scheduler, e.g. `SWITCHYARD_BLOB_THRESHOLD`. */
  readonly schedulerEnv?: Readonly<Record<string, string>>
  /** Extra environment of every service, e.g. `OTEL_EXPORTER_OTLP_ENDPOINT`. */
  readonly env?: Readonly<Record<string, string>>
}

/** An executor replica and the id it reports in heartbeats and results. */
export interface Replica extends CliProcess {
  readonly executorId: string
}

/** A started deployment. */
export interface Stack {
  readonly natsUrl: string
  readonly registry: CliProcess
  /** The scheduler started last (see `replaceScheduler`). */
  readonly scheduler: () => CliProcess
  readonly replicas: ReadonlyArray<Replica>
  /** Every service process started so far, replaced schedulers included. */
  readonly processes: () => ReadonlyArray<CliProcess>
  /** Starts another scheduler process (after the last one was killed) without waiting for it. */
  readonly replaceScheduler: Effect.Effect<CliProcess, never, Scope.Scope>
  /** Waits until a scheduler answers `run.cancel`. */
  readonly schedulerReady: Effect.Effect<void, unknown>
}

/** Each service serves /healthz, /readyz and /metrics on a free port, which it logs. */
const httpPort = ["--http-port", "0"]

/** The HTTP port a service logged it serves /readyz and /metrics on. */
export const httpPortOf = (service: CliProcess): Effect.Effect<number, unknown> =>
  service
    .logged(/serving \/healthz, \/readyz and \/metrics on port (\d+)/, readyTimeout)
    .pipe(Effect.map((line) => Number(/on port (\d+)/.exec(line)![1])))

/** Waits until the service's /readyz answers 200. */
export const serviceReady = (service: CliProcess): Effect.Effect<void, unknown> =>
  Effect.gen(function* () {
    const port = yield* httpPortOf(service)
    yield* eventually(
      `${service.label} answers 200 on /readyz`,
      Effect.tryPromise(() => fetch(`http://127.0.0.1:${port}/readyz`)).pipe(
        Effect.flatMap((response) =>
          response.ok ? Effect.succeed(true) : Effect.tryPromise(() => response.text()).pipe(Effect.flatMap(Effect.fail))
        )
      ),
      readyTimeout
    )
  })

/** Starts the registry, a scheduler and the replicas, and waits until all of them serve. */
export const startStack = (options: StackOptions): Effect.Effect<Stack, unknown, Scope.Scope> =>
  Effect.gen(function* () {
    const pool = options.pool ?? "hello"
    const nats = ["--nats", options.natsUrl]
    const started: Array<CliProcess> = []
    const track = <A extends CliProcess>(cli: A): A => {
      started.push(cli)
      return cli
    }
    const registry = track(
      yield* spawnCli({
        label: "registry",
        args: ["registry", ...nats, ...httpPort],
        ...(options.env === undefined ? {} : { env: options.env })
      })
    )
    let schedulers = 0
    const spawnScheduler = Effect.suspend(() => {
      schedulers++
      // A killed scheduler's leased results come back after this lease; keep it short so a replacement resumes quickly.
      return spawnCli({
        label: `scheduler-${schedulers}`,
        args: ["scheduler", ...nats, ...httpPort],
        env: { SWITCHYARD_RESULT_ACK_WAIT: "2 seconds", ...options.env, ...options.schedulerEnv }
      }).pipe(Effect.map(track))
    })
    let scheduler = yield* spawnScheduler
    const replicas = yield* Effect.forEach(options.replicas ?? ["a", "b"], (label) =>
      Effect.gen(function* () {
        const executorId = uniquePrefix(`executor-${label}-`)
        const cli = yield* spawnCli({
          label: `executor-${label}`,
          args: [
            "executor",
            ...nats,
            "--pool",
            pool,
            ...httpPort,
            ...(options.slots === undefined ? [] : ["--slots", String(options.slots)]),
            ...(options.modules ?? []).flatMap((module) => ["--module", module])
          ],
          env: { SWITCHYARD_EXECUTOR_ID: executorId, ...options.env, ...options.executorEnv }
        })
        return track<Replica>({ ...cli, executorId })
      })
    )

    const client = yield* Layer.build(
      SwitchyardClient.layer.pipe(Layer.provide(NatsBus.layer({ url: options.natsUrl, name: "e2e-probe" })))
    ).pipe(Effect.map((context) => Context.get(context, SwitchyardClient)))
    const schedulerReady = eventually(
      "a scheduler answers run.cancel",
      client.cancelRun("e2e-readiness-probe").pipe(Effect.timeout("1 second")),
      readyTimeout
    ).pipe(Effect.asVoid)

    // Readiness is what each service says, never a fixed pause: its /readyz answers 200 once it is
    // connected, its streams, consumers and buckets are in place and (a replica) its stage types announced.
    yield* Effect.forEach([registry, scheduler, ...replicas], serviceReady, { concurrency: "unbounded", discard: true })
    yield* schedulerReady

    return {
      natsUrl: options.natsUrl,
      registry,
      scheduler: () => scheduler,
      replicas,
      processes: () => [...started],
      replaceScheduler: spawnScheduler.pipe(Effect.tap((next) => Effect.sync(() => void (scheduler = next)))),
      schedulerReady
    }
  })

const decodeEvent = Schema.decodeUnknownSync(Schema.fromJsonString(RunEvent))

/** The events a `run --json` printed, in order. */
export const runEvents = (stdout: string): ReadonlyArray<RunEvent> =>
  stdout
    .split("\n")
    .filter((line) => line.trim() !== "")
    .map((line) => decodeEvent(line))

/** A `run` that ended, with its events. */
export interface RunOutcome extends Finished {
  readonly events: ReadonlyArray<RunEvent>
  /** The `run.finished` event. */
  readonly finished: RunFinished | undefined
}

/** Runs `switchyard run <pipeline> --json [args]` to its end. */
export const runPipeline = (
  pipeline: string,
  args: ReadonlyArray<string> = [],
  options: {
    readonly label?: string
    readonly timeout?: Duration.Input
    readonly env?: Readonly<Record<string, string>>
  } = {}
): Effect.Effect<RunOutcome, never, Scope.Scope> =>
  runCli({
    label: options.label ?? `run ${pipeline}`,
    args: ["run", pipeline, "--json", ...args],
    ...(options.timeout === undefined ? {} : { timeout: options.timeout }),
    ...(options.env === undefined ? {} : { env: options.env })
  }).pipe(
    Effect.map((finished) => {
      // Exit 2: the pipeline was refused, and stdout holds its `pipeline.invalid` issues instead of events.
      const events = finished.code === 2 ? [] : runEvents(finished.stdout)
      return { ...finished, events, finished: events.find(isKind("run.finished")) }
    })
  )
