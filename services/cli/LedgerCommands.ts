/**
 * `switchyard ledger`: set a run's ledger fields from a shell (the gate
 * stages waiting on them run again), and show a run's ledger with the
 * stages waiting on it. Over NATS only: an embedded run lives in its own
 * process.
 */
import { Config, Console, Effect, Layer, Option, Runtime, Schema } from "effect"
import { Argument, Command, Flag } from "effect/cli"
import type { SwitchyardClient } from "@switchyard/bus/SwitchyardClient"
import { busLayer } from "./internal/busLayer.ts"
import { asCommand } from "./internal/failures.ts"

/** The run named is not in the run-state bucket. */
export class RunNotFoundError extends Schema.TaggedError<RunNotFoundError>()("RunNotFoundError", {
  runId: Schema.String
}) {
  override readonly [Runtime.errorExitCode] = 1
  override readonly [Runtime.errorReported] = false
  override get message(): string {
    return `no run ${this.runId} in the run-state bucket`
  }
}

/** A `field=value` argument without a field or an `=`. */
export class LedgerFieldError extends Schema.TaggedError<LedgerFieldError>()("LedgerFieldError", {
  found: Schema.String
}) {
  override readonly [Runtime.errorExitCode] = 1
  override readonly [Runtime.errorReported] = false
  override get message(): string {
    return `expected field=value, found ${JSON.stringify(this.found)}`
  }
}

const nats = Flag.String("nats").pipe(
  Flag.withDescription("NATS server URL"),
  Flag.withFallbackConfig(Config.String("SWITCHYARD_NATS_URL")),
  Flag.withDefault("nats://127.0.0.1:4222")
)

const runId = Argument.String("runId").pipe(Argument.withDescription("The run's id"))

/** Prints a command's own errors on stderr (they are not reported again). */
const reportErrors = <A, R>(effect: Effect.Effect<A, RunNotFoundError | LedgerFieldError | unknown, R>) =>
  effect.pipe(
    Effect.tapError((error) =>
      error instanceof RunNotFoundError || error instanceof LedgerFieldError ? Console.error(error.message) : Effect.void
    )
  )

/** Calls `f` with a client of the deployment at `url`; the client (and the run schemas it decodes) load when a command runs. */
const withClient = <A, E>(url: string, f: (client: SwitchyardClient["Service"]) => Effect.Effect<A, E>) =>
  Effect.promise(() => import("@switchyard/bus/SwitchyardClient")).pipe(
    Effect.flatMap(({ SwitchyardClient }) =>
      SwitchyardClient.use(f).pipe(Effect.provide(SwitchyardClient.layer.pipe(Layer.provide(busLayer(url)))))
    )
  )

/** `field=value`: the value as JSON when it parses as JSON (`true`, `3`, `{"a":1}`), as text otherwise. */
export const parseField = (assignment: string): [string, Schema.Json] => {
  const at = assignment.indexOf("=")
  const field = assignment.slice(0, at)
  const text = assignment.slice(at + 1)
  try {
    return [field, JSON.parse(text) as Schema.Json]
  } catch {
    return [field, text]
  }
}

const set = Command.make(
  "set",
  {
    nats,
    runId,
    fields: Argument.String("field=value").pipe(
      Argument.withDescription("A ledger field; the value is JSON when it parses as JSON, text otherwise; repeatable"),
      Argument.atLeast(1)
    ),
    source: Flag.String("source").pipe(Flag.withDescription("Who sets the fields, for the run's audit trail"), Flag.optional)
  },
  Effect.fn(
    function* ({ fields, nats, runId, source }) {
      const malformed = fields.find((field) => field.indexOf("=") <= 0)
      if (malformed !== undefined) return yield* new LedgerFieldError({ found: malformed })
      const values = Object.fromEntries(fields.map(parseField))
      const reply = yield* withClient(nats, (client) =>
        client.updateLedger(runId, values, Option.isSome(source) ? { source: source.value } : {})
      )
      if (reply.status === "unknown") return yield* new RunNotFoundError({ runId })
      yield* Console.log(
        reply.applied
          ? `ledger of run ${runId}: set ${Object.keys(values).join(", ")}`
          : `ledger of run ${runId} unchanged: the run already ${reply.status}`
      )
    },
    reportErrors,
    asCommand("Warn")
  )
).pipe(Command.withDescription("Set ledger fields of a run; gates waiting on them are evaluated again"))

const show = Command.make(
  "show",
  { nats, runId },
  Effect.fn(
    function* ({ nats, runId }) {
      const run = yield* withClient(nats, (client) => client.getRun(runId))
      if (Option.isNone(run)) return yield* new RunNotFoundError({ runId })
      const { ledger, stages, status } = run.value
      const waiting = Object.values(stages).filter((stage) => stage.status === "waiting")
      yield* Console.log(
        [
          `run ${runId} ${status}`,
          "ledger:",
          ...(Object.keys(ledger).length === 0
            ? ["  (empty)"]
            : Object.entries(ledger).map(([key, value]) => `  ${key} = ${JSON.stringify(value)}`)),
          ...waiting.flatMap((stage) => [
            `stage ${stage.name} waiting: ${stage.waiting?.message ?? ""}`,
            ...(stage.waiting?.unmet ?? []).map((unmet) => `  unmet: ${unmet}`)
          ])
        ].join("\n")
      )
    },
    reportErrors,
    asCommand("Warn")
  )
).pipe(Command.withDescription("Show a run's ledger and the stages waiting on it"))

/** `switchyard ledger set|show`. */
export const ledger = Command.make("ledger").pipe(
  Command.withDescription("Read and set run ledgers (over NATS)"),
  Command.withSubcommands([set, show])
)
