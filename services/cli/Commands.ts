/**
 * The `switchyard` command line, as data: `run`, `stages`, and one command
 * per distributed service. Handlers only compose layers and call services.
 */
import { readFile } from "node:fs/promises"
import { Clock, Config, Console, Effect, Layer, Option, Runtime, Schema, Stream } from "effect"
import { Argument, Command, Flag } from "effect/cli"
import { PipelineInvalidError, checkRunInputs, parsePipeline } from "../scheduler/index.ts"
import { PipelineIssue } from "@switchyard/schemas/Run"
import { RegistryClient } from "../registry/index.ts"
import { SwitchyardClient } from "@switchyard/bus/SwitchyardClient"
import { clientLayer, busLayer, executorLayer, pluginExecutorLayer, registryLayer, schedulerLayer } from "./Stack.ts"
import { loadStages } from "./internal/loadStages.ts"
import { missingServices, schedulerMissing } from "./internal/preflight.ts"
import { Subjects } from "@switchyard/schemas/Subjects"
import type { NoRespondersError } from "@switchyard/bus/BusError"
import { plugin } from "./PluginCommands.ts"
import { ledger } from "./LedgerCommands.ts"
import { makeSummary } from "./internal/summary.ts"
import { reportRejection } from "./internal/rejection.ts"
import { unservedPlugins } from "./internal/pipelinePlugins.ts"
import { asCommand } from "./internal/failures.ts"
import { formatMs, makeRenderer } from "./internal/progress.ts"
import type { Format } from "./internal/progress.ts"

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
const write = (text: string) => Effect.sync(() => void process.stdout.write(text))

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
    function* ({ inputs, json, modules, nats, pipeline, vars }) {
      const refuse = (issues: ReadonlyArray<PipelineIssue>, text?: string) =>
        reportRejection({ file: pipeline, json, issues, ...(text === undefined ? {} : { text }) }).pipe(
          Effect.andThen(Effect.fail(new PipelineRejectedError({ file: pipeline })))
        )
      const text = yield* Effect.tryPromise({
        try: () => readFile(pipeline, "utf8"),
        catch: (cause) => String(cause)
      }).pipe(
        Effect.catch((cause) =>
          refuse(
            [new PipelineIssue({ file: pipeline, line: 1, column: 1, path: "", message: `cannot read the file (${cause})` })],
            `${pipeline}: cannot read the file (${cause})`
          )
        )
      )
      const reject = (error: PipelineInvalidError) => refuse(error.issues)
      const parsed = yield* parsePipeline({ file: pipeline, text }).pipe(Effect.catchTag("PipelineInvalidError", reject))
      const runInputs = Option.getOrElse(inputs, () => ({}))
      const inputIssues = checkRunInputs(parsed, runInputs)
      if (inputIssues.length > 0) return yield* reject(new PipelineInvalidError({ file: pipeline, issues: inputIssues }))
      const format: Format = json ? "json" : process.stdout.isTTY ? "live" : "plain"
      const renderer = makeRenderer(
        format,
        parsed.pipeline.stages.map((stage) => stage.name)
      )
      const url = Option.getOrUndefined(nats)
      const definitions = yield* loadStages(modules, {
        ...(parsed.pipeline.plugins === undefined || url !== undefined
          ? {}
          : { pipeline: { file: pipeline, plugins: parsed.pipeline.plugins } })
      }).pipe(
        Effect.catchTag("PipelinePluginMissingError", (error) =>
          refuse(
            [
              parsed.issueAt(
                `plugins.packages[${parsed.pipeline.plugins?.packages?.indexOf(error.packageName) ?? 0}]`,
                `expected the npm package ${error.packageName} installed as a Switchyard plugin in ${error.projectDir}/node_modules, found none`
              )
            ],
            error.message
          )
        )
      )
      const summary = makeSummary(parsed.pipeline)
      const outcome = yield* Effect.scoped(
        Effect.gen(function* () {
          const client = yield* SwitchyardClient
          const names = yield* Subjects
          const incomplete = (lines: ReadonlyArray<string>) =>
            Console.error(lines.join("\n")).pipe(Effect.andThen(Effect.fail(new DeploymentIncompleteError({ url: url ?? "" }))))
          if (url !== undefined) {
            // The pipeline's own plugins first (their message names the executor to start for each);
            // without a registry to ask, the deployment check below says to start one.
            const unserved = yield* unservedPlugins({ parsed, url, projectDir: process.cwd() }).pipe(
              Effect.catchTag("DiscoveryError", (error) => Effect.succeed([parsed.issueAt("plugins.paths", error.message)])),
              Effect.catchTag("NoRespondersError", () => Effect.succeed([]))
            )
            if (unserved.length > 0) return yield* refuse(unserved)
            const missing = yield* missingServices({
              registry: yield* RegistryClient,
              url,
              resolveSubject: names.stageResolve,
              types: parsed.pipeline.stages.map((stage) => stage.type)
            })
            if (missing.length > 0) return yield* incomplete(missing)
          }
          const submitted = yield* client
            .submitRun({
              pipeline: text,
              file: pipeline,
              inputs: runInputs,
              ...(Option.isSome(vars) ? { vars: vars.value } : {})
            })
            .pipe(
              Effect.catchTag("PipelineInvalidError", reject),
              Effect.catchTag("NoRespondersError", (error): Effect.Effect<never, NoRespondersError | DeploymentIncompleteError> =>
                url !== undefined && error.subject === names.runSubmit
                  ? incomplete([schedulerMissing({ url, submitSubject: names.runSubmit })])
                  : Effect.fail(error)
              )
            )
          let last: { status?: string; state?: unknown; at: number } | undefined
          const startedAt = yield* Clock.currentTimeMillis
          yield* submitted.events.pipe(
            Stream.runForEach((event) =>
              Effect.gen(function* () {
                if (event.kind === "run.finished")
                  last = { ...(event.status === undefined ? {} : { status: event.status }), state: event.state, at: event.at }
                summary.observe(event)
                yield* write(renderer.render(event))
              })
            )
          )
          if (format !== "json" && last !== undefined) {
            const finalState = (last.state ?? {}) as Record<string, unknown>
            // A pipeline with a summary says what matters; otherwise show the state slots.
            const state =
              parsed.pipeline.summary === undefined
                ? `state:\n${Object.entries(finalState)
                    .map(([key, value]) => {
                      const json = JSON.stringify(value)
                      return `  ${key} = ${json.length > 120 ? `${json.slice(0, 117)}...` : json}`
                    })
                    .join("\n")}\n`
                : ""
            const record = Option.getOrUndefined(yield* client.getRun(submitted.runId).pipe(Effect.orElseSucceed(() => Option.none())))
            const report = summary.render({
              runId: submitted.runId,
              state: finalState,
              inputs: record?.inputs ?? {},
              ledger: record?.ledger ?? {}
            })
            yield* write(`${state}${report}finished in ${formatMs(last.at - startedAt)}\n`)
          }
          return { runId: submitted.runId, status: last?.status ?? "unknown" }
        })
      ).pipe(Effect.provide(clientLayer(url, definitions)))
      if (outcome.status !== "succeeded") return yield* new RunNotSucceededError(outcome)
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
  { nats, modules, json: Flag.Boolean("json").pipe(Flag.withDefault(false)) },
  Effect.fn(
    function* ({ json, modules, nats }) {
      const definitions = yield* loadStages(modules)
      const reply = yield* Effect.gen(function* () {
        const registry = yield* RegistryClient
        return yield* registry.list()
      }).pipe(Effect.scoped, Effect.provide(clientLayer(Option.getOrUndefined(nats), definitions)))
      if (json) return yield* Console.log(JSON.stringify(reply.stages, null, 2))
      const rows = reply.stages.map((s) => [
        s.metadata.type,
        s.metadata.version,
        s.pool,
        s.online ? "online" : "offline",
        s.metadata.description
      ])
      const widths = [0, 1, 2, 3].map((i) =>
        Math.max(...rows.map((row) => row[i]!.length), ["TYPE", "VERSION", "POOL", "STATE"][i]!.length)
      )
      const line = (cells: ReadonlyArray<string>) => cells.map((cell, i) => (i < 4 ? cell.padEnd(widths[i]!) : cell)).join("  ")
      yield* Console.log([line(["TYPE", "VERSION", "POOL", "STATE", "DESCRIPTION"]), ...rows.map(line)].join("\n"))
    },
    // Warm pools of discovered plugins live as long as the command.
    Effect.scoped,
    asCommand("Warn")
  )
).pipe(Command.withDescription("List the stage types the registry knows"))

const registry = Command.make("registry", { nats: requiredNats }, ({ nats }) =>
  Layer.launch(registryLayer.pipe(Layer.provide(busLayer(nats)))).pipe(asCommand("Info"))
).pipe(Command.withDescription("Run the registry service against NATS"))

const scheduler = Command.make("scheduler", { nats: requiredNats }, ({ nats }) =>
  Layer.launch(schedulerLayer.pipe(Layer.provide(busLayer(nats)))).pipe(asCommand("Info"))
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
    modules
  },
  Effect.fn(
    function* ({ builtins, modules, nats, pool, runtime, slots }) {
      const definitions = (yield* loadStages(modules, { builtins, plugins: false })).filter(
        (definition) => definition.metadata.runtime === runtime
      )
      const options = { pool, ...Option.match(slots, { onNone: () => ({}), onSome: (n) => ({ slots: n }) }) }
      return yield* Layer.launch(
        (runtime === "process"
          ? pluginExecutorLayer(definitions, { ...options, runtime, projectDir: process.cwd() })
          : executorLayer(definitions, options)
        ).pipe(Layer.provide(busLayer(nats)))
      )
    },
    Effect.scoped,
    asCommand("Info")
  )
).pipe(Command.withDescription("Run an executor replica of a pool against NATS"))

/** The root command. */
export const switchyard = Command.make("switchyard").pipe(
  Command.withDescription("Run pipelines of pluggable stages"),
  Command.withSubcommands([run, stages, registry, scheduler, executor, plugin, ledger])
)
