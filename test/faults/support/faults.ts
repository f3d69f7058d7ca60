/**
 * What the fault scenarios share: replicas of the `faults` pool run as CLI
 * processes and started again whenever they exit (as a supervisor would),
 * an SDK client over NATS, and runs of the `faults.work` pipeline submitted
 * and awaited to their end, with each run's label appended once to the
 * `work` slot when its result is applied and each execution written to a
 * file, so a scenario counts executions and applications per task.
 */
import { mkdtempSync, readFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { Context, Effect, Layer, Option, Schedule, Stream } from "effect"
import type { Duration, Scope } from "effect"
import * as NatsBus from "../../../services/bus/NatsBus.ts"
import { SwitchyardClient } from "../../../services/bus/SwitchyardClient.ts"
import type { RunEvent } from "../../../schemas/Run.ts"
import { type CliProcess, readyTimeout, spawnCli } from "../../e2e/support/CliProcess.ts"
import { startStack } from "../../e2e/support/Stack.ts"
import { eventually } from "../../support/eventually.ts"

/** The pipeline every scenario runs: one `faults.work` stage over the run's inputs. */
export const workPipeline = (ms: number) => `
name: faults
stages:
  - name: work
    type: faults.work
    inputs: { label: "{{ inputs.label }}", crash: "{{ inputs.crash }}", ms: ${ms} }
`

/**
 * A `for_each` pipeline: one `faults.work` task per item of the run's `items`
 * (strings), each returning its item, so the `work` slot ends holding the
 * items in order, each once.
 */
export const fanOutPipeline = (options: { readonly ms: number; readonly maxParallel: number }) => `
name: faults-fan-out
stages:
  - name: work
    type: faults.work
    for_each: "{{ inputs.items }}"
    max_parallel: ${options.maxParallel}
    inputs: { label: "{{ item }}", crash: false, ms: ${options.ms} }
`

/** A file the replicas note each execution in, one label per line. */
export const executionsLog = (): { readonly path: string; readonly counts: () => ReadonlyMap<string, number> } => {
  const path = join(mkdtempSync(join(tmpdir(), "switchyard-faults-")), "executions.log")
  return {
    path,
    counts: () => {
      const counts = new Map<string, number>()
      let text = ""
      try {
        text = readFileSync(path, "utf8")
      } catch {
        return counts
      }
      for (const line of text.split("\n")) if (line !== "") counts.set(line, (counts.get(line) ?? 0) + 1)
      return counts
    }
  }
}

/** One line of the trace `faults.work` writes to `FAULTS_TRACE`. */
export type TraceLine =
  | { readonly kind: "start"; readonly pid: number; readonly label: string; readonly running: number }
  | { readonly kind: "end"; readonly pid: number; readonly label: string }

/** A file the replicas trace each task's start (with its process and the tasks running beside it) and end in. */
export const traceLog = (): { readonly path: string; readonly lines: () => ReadonlyArray<TraceLine> } => {
  const path = join(mkdtempSync(join(tmpdir(), "switchyard-faults-")), "trace.log")
  return {
    path,
    lines: () => {
      let text = ""
      try {
        text = readFileSync(path, "utf8")
      } catch {
        return []
      }
      return text
        .split("\n")
        .filter((line) => line !== "")
        .map((line): TraceLine => {
          const [kind, pid, label, running] = line.split(" ")
          return kind === "start"
            ? { kind, pid: Number(pid), label: label!, running: Number(running) }
            : { kind: "end", pid: Number(pid), label: label! }
        })
    }
  }
}

/** Options of `supervisedReplica`. */
export interface ReplicaOptions {
  readonly natsUrl: string
  readonly label: string
  readonly executions: string
  /** Where `faults.work` traces its starts and ends (`traceLog`), if anywhere. */
  readonly trace?: string
  readonly slots?: number
  readonly env?: Readonly<Record<string, string>>
  /** Whether it is started again when it exits. @default true */
  readonly restart?: boolean
}

/**
 * A replica of the `faults` pool, started again whenever it exits (unless `restart: false`), until the scope closes.
 * `current()` is the process running now (to kill or pause), `all()` every one started.
 */
export const supervisedReplica = (options: ReplicaOptions) =>
  Effect.gen(function* () {
    const started: Array<CliProcess> = []
    const loop = Effect.gen(function* () {
      for (let generation = 1; ; generation++) {
        const cli = yield* spawnCli({
          label: `executor-${options.label}-${generation}`,
          args: [
            "executor",
            "--nats",
            options.natsUrl,
            "--pool",
            "faults",
            "--slots",
            String(options.slots ?? 4),
            "--module",
            "test/faults/fixtures/crashStages.ts"
          ],
          env: {
            FAULTS_EXECUTIONS: options.executions,
            ...(options.trace === undefined ? {} : { FAULTS_TRACE: options.trace }),
            SWITCHYARD_ACK_WAIT: "3 seconds",
            ...options.env
          }
        })
        started.push(cli)
        yield* cli.exited
        if (options.restart === false) return
      }
    })
    yield* Effect.forkScoped(loop)
    const ready = Effect.suspend((): Effect.Effect<unknown, unknown> => {
      const cli = started.at(-1)
      return cli === undefined ? Effect.fail("not started yet") : cli.logged("for pool faults", readyTimeout)
    }).pipe(Effect.retry({ times: 200, schedule: Schedule.spaced("50 millis") }), Effect.asVoid)
    return { current: () => started.at(-1)!, all: () => [...started], ready }
  })

/** An SDK client over NATS for the scenario's scope. */
export const faultsClient = (natsUrl: string, name = "faults-client"): Effect.Effect<SwitchyardClient["Service"], unknown, Scope.Scope> =>
  Layer.build(SwitchyardClient.layer.pipe(Layer.provide(NatsBus.layer({ url: natsUrl, name })))).pipe(
    Effect.map((context) => Context.get(context, SwitchyardClient))
  )

/** A run that ended: its id, label, final event and the labels its `work` slot holds. */
export interface RunEnd {
  readonly runId: string
  readonly label: string
  readonly status: string | undefined
  readonly applied: ReadonlyArray<unknown>
}

/**
 * Submits one `faults.work` run and waits for its end (its `run.finished`), then reads its record.
 * A run whose `run.finished` is not seen in time has a `status` describing its record instead.
 */
export const runToEnd = (
  client: SwitchyardClient["Service"],
  options: { readonly label: string; readonly crash?: boolean; readonly ms: number; readonly timeout?: Duration.Input }
): Effect.Effect<RunEnd, unknown, Scope.Scope> =>
  Effect.gen(function* () {
    const run = yield* client.submitRun({
      pipeline: workPipeline(options.ms),
      file: "faults.yaml",
      inputs: { label: options.label, crash: options.crash ?? false }
    })
    const last = yield* Stream.runLast(run.events.pipe(Stream.filter((event: RunEvent) => event.kind === "run.finished"))).pipe(
      Effect.timeoutOption(options.timeout ?? "180 seconds")
    )
    const finished = Option.getOrUndefined(Option.flatten(last))
    // Read again while the server is away (a scenario may take NATS down just as a run ends).
    const record = yield* client.getRun(run.runId).pipe(Effect.retry({ schedule: Schedule.spaced("500 millis"), times: 120 }))
    const work = Option.isSome(record) ? record.value.state["work"] : undefined
    // A run whose watcher saw no end says what its record holds instead, for the scenario's failure message.
    const unseen = Option.match(record, {
      onNone: () => "no run.finished seen, and no record",
      onSome: ({ status, stages }) =>
        `no run.finished seen; record ${status}, stages ${Object.entries(stages)
          .map(([name, stage]) => `${name} ${stage.status}`)
          .join(", ")}`
    })
    return {
      runId: run.runId,
      label: options.label,
      status: finished?.kind === "run.finished" ? finished.status : unseen,
      applied: Array.isArray(work) ? work : []
    }
  })

/** A run's end as its saved record shows it: its status and the labels its `work` slot holds. */
export interface RecordEnd {
  readonly runId: string
  readonly status: string
  readonly applied: ReadonlyArray<unknown>
  /** The errors of its failed stages, `stage: message`. */
  readonly errors: ReadonlyArray<string>
}

/**
 * Waits until the saved record of a run says it ended (polled, so it holds whatever became of
 * the scheduler that published its events) and returns its status and `work` slot.
 */
export const recordEnd = (
  client: SwitchyardClient["Service"],
  runId: string,
  timeout: Duration.Input = "180 seconds"
): Effect.Effect<RecordEnd, unknown> =>
  eventually(
    `run ${runId} ends`,
    client.getRun(runId).pipe(
      Effect.map((record) => {
        if (Option.isNone(record) || record.value.status === "running") return false
        const work = record.value.state["work"]
        const errors = Object.entries(record.value.stages).flatMap(([stage, state]) =>
          state.error === undefined ? [] : [`${stage}: ${state.error.message}`]
        )
        return { runId, status: record.value.status, applied: Array.isArray(work) ? work : [], errors }
      })
    ),
    { timeout, interval: "200 millis" }
  )

/**
 * The registry, a scheduler and two replicas (`a`, `b`, 4 slots, a 3 s lease) of the `faults` pool
 * as CLI processes on `natsUrl`, noting executions in `executions`.
 */
export const faultsStack = (natsUrl: string, executions: string) =>
  startStack({
    natsUrl,
    pool: "faults",
    replicas: ["a", "b"],
    slots: 4,
    modules: ["test/faults/fixtures/crashStages.ts"],
    executorEnv: { FAULTS_EXECUTIONS: executions, SWITCHYARD_ACK_WAIT: "3 seconds" }
  })
