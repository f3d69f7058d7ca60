/**
 * The `switchyard` command line, as data: `run`, `stages`, and one command
 * per distributed service. Handlers only compose layers and call services,
 * and import what they run when they run: printing the help or the version
 * loads the command tree and nothing of the services, the bus or the parsers.
 */
import { Config, Effect, Layer, Option, Runtime, Schema } from "effect"
import { Argument, Command, Flag } from "effect/cli"
import { plugin } from "./PluginCommands.ts"
import { ledger } from "./LedgerCommands.ts"
import { runs } from "./RunsCommands.ts"
import { asCommand } from "./internal/failures.ts"

/** A run that ended other than succeeded: exit code 1. */
export class RunNotSucceededError extends Schema.TaggedError<RunNotSucceededError>()("RunNotSucceededError", {
  runId: Schema.String,
  status: Schema.String
}) {
  override readonly [Runtime.errorExitCode] = 1
  override readonly [Runtime.errorReported] = false
}

/** A pipeline rejected before it ran: exit code 2. */
export class PipelineRejectedError extends Schema.TaggedError<PipelineRejectedError>()("PipelineRejectedError", {
  file: Schema.String
}) {
  override readonly [Runtime.errorExitCode] = 2
  override readonly [Runtime.errorReported] = false
}

/** `run --nats` found a service missing from the deployment (registry, scheduler, an executor): exit code 2. */
export class DeploymentIncompleteError extends Schema.TaggedError<DeploymentIncompleteError>()("DeploymentIncompleteError", {
  url: Schema.String
}) {
  override readonly [Runtime.errorExitCode] = 2
  override readonly [Runtime.errorReported] = false
}

const nats = Flag.String("nats").pipe(
  Flag.withDescription("NATS server URL; without it (and without SWITCHYARD_NATS_URL) everything runs embedded in this process"),
  Flag.withFallbackConfig(Config.String("SWITCHYARD_NATS_URL")),
  Flag.optional
)

const requiredNats = Flag.String("nats").pipe(
  Flag.withDescription("NATS server URL"),
  Flag.withFallbackConfig(Config.String("SWITCHYARD_NATS_URL")),
  Flag.withDefault("nats://127.0.0.1:4222")
)

const modules = Flag.String("module").pipe(
  Flag.withDescription("A module exporting `stages` (defineStage results) to serve besides the built-ins; repeatable"),
  Flag.atLeast(0)
)

// A closed pipe (`switchyard run ... | head`) ends output quietly.
process.stdout.on("error", () => undefined)

const run = Command.make(
  "run",
  {
    pipeline: Argument.String("pipeline.yaml").pipe(Argument.withDescription("The pipeline file to run")),
    inputs: Flag.KeyValuePair("input").pipe(Flag.withDescription("A run input, key=value; repeatable"), Flag.optional),
    vars: Flag.KeyValuePair("var").pipe(
      Flag.withDescription(
        "A var for {{ vars.KEY }} and ctx.vars, key=value, over the pipeline's vars: and SWITCHYARD_VAR_<KEY>; repeatable"
      ),
      Flag.optional
    ),
    nats,
    modules,
    json: Flag.Boolean("json").pipe(Flag.withDescription("Print one JSON event per line"), Flag.withDefault(false))
  },
  Effect.fn(
    function* (options) {
      const [{ runPipeline }, Tracing] = yield* Effect.promise(() =>
        Promise.all([import("./internal/runPipeline.ts"), import("../telemetry/Tracing.ts")])
      )
      // The submit's span is the root of the run's trace; exported when OTEL_* variables say where.
      return yield* runPipeline(options).pipe(Effect.provide(Tracing.layer("cli")))
    },
    // Warm pools of discovered plugins live as long as the command.
    Effect.scoped,
    asCommand("Warn")
  )
).pipe(
  Command.withDescription("Run a pipeline and follow its progress (exit 0 succeeded, 1 failed, 2 invalid pipeline or a service missing)")
)

const stages = Command.make(
  "stages",
  {
    nats,
    modules,
    json: Flag.Boolean("json").pipe(Flag.withDescription("Print the stage types as one JSON array"), Flag.withDefault(false))
  },
  Effect.fn(
    function* ({ json, modules, nats }) {
      const { listStages } = yield* Effect.promise(() => import("./internal/listStages.ts"))
      return yield* listStages({ json, modules, url: Option.getOrUndefined(nats) })
    },
    // Warm pools of discovered plugins live as long as the command.
    Effect.scoped,
    asCommand("Warn")
  )
).pipe(Command.withDescription("List the stage types the registry knows"))

const stack = Effect.promise(() => import("./Stack.ts"))

const httpPort = Flag.Int("http-port").pipe(
  Flag.withDescription("Serve /healthz, /readyz and /metrics on this port (0: any free port, named in the log); none without it"),
  Flag.withFallbackConfig(Config.Int("SWITCHYARD_HTTP_PORT")),
  Flag.optional
)

const registry = Command.make("registry", { nats: requiredNats, httpPort }, ({ httpPort, nats }) =>
  stack.pipe(
    Effect.flatMap(({ busLayer, registryLayer, serviceLayer }) =>
      Layer.launch(serviceLayer(registryLayer.pipe(Layer.provide(busLayer(nats))), { service: "registry", httpPort }))
    ),
    asCommand("Info", "json")
  )
).pipe(Command.withDescription("Run the registry service against NATS"))

const scheduler = Command.make("scheduler", { nats: requiredNats, httpPort }, ({ httpPort, nats }) =>
  stack.pipe(
    Effect.flatMap(({ busLayer, schedulerLayer, serviceLayer }) =>
      Layer.launch(serviceLayer(schedulerLayer.pipe(Layer.provide(busLayer(nats))), { service: "scheduler", httpPort }))
    ),
    asCommand("Info", "json")
  )
).pipe(Command.withDescription("Run the scheduler service against NATS"))

const executor = Command.make(
  "executor",
  {
    nats: requiredNats,
    pool: Flag.String("pool").pipe(
      Flag.withDescription("The pool this replica serves"),
      Flag.withFallbackConfig(Config.String("SWITCHYARD_POOL"))
    ),
    runtime: Flag.Literals("runtime", ["inline", "process"]).pipe(
      Flag.withDescription(
        "Which stages this pool serves: inline (built-ins and --module) or process (plugins discovered for the project)"
      ),
      Flag.withDefault("inline")
    ),
    builtins: Flag.Boolean("builtins").pipe(
      Flag.withDescription("Serve the built-in stage types too (--no-builtins: only the --module ones)"),
      Flag.withDefault(true)
    ),
    slots: Flag.Int("slots").pipe(Flag.withDescription("Tasks run at once by this replica"), Flag.optional),
    modules,
    httpPort
  },
  Effect.fn(
    function* (options) {
      const { serveExecutor } = yield* Effect.promise(() => import("./internal/serveExecutor.ts"))
      return yield* serveExecutor(options)
    },
    Effect.scoped,
    asCommand("Info", "json")
  )
).pipe(Command.withDescription("Run an executor replica of a pool against NATS"))

/** The root command. */
export const switchyard = Command.make("switchyard").pipe(
  Command.withDescription("Run pipelines of pluggable stages"),
  Command.withSubcommands([run, stages, registry, scheduler, executor, plugin, ledger, runs])
)
