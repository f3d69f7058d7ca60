/**
 * What `switchyard run` does once its command line is parsed: read and check
 * the pipeline, load the stages to serve, then submit the run to the
 * deployment at `--nats` (after checking its services are there) or to one
 * embedded in this process, and follow its events to the end. Loaded only
 * when `run` runs: it pulls in the pipeline parser, the plugin host and,
 * embedded, every service.
 */
import { readFile } from "node:fs/promises"
import { Console, Effect, Option, Stream } from "effect"
import { PipelineInvalidError, checkRunInputs, parsePipeline, pipelineLimits } from "../../scheduler/index.ts"
import { PipelineIssue } from "@switchyard/schemas/Run"
import { RegistryClient } from "../../registry/index.ts"
import { SwitchyardClient } from "@switchyard/bus/SwitchyardClient"
import { Subjects } from "@switchyard/schemas/Subjects"
import type { NoRespondersError } from "@switchyard/bus/BusError"
import { DeploymentIncompleteError, PipelineRejectedError, RunNotSucceededError } from "../Commands.ts"
import { clientLayer } from "../Stack.ts"
import { loadStages } from "./loadStages.ts"
import { missingServices, schedulerMissing } from "./preflight.ts"
import { makeSummary } from "./summary.ts"
import { reportRejection } from "./rejection.ts"
import { unservedPlugins } from "./pipelinePlugins.ts"
import { formatMs, makeRenderer, runDurationMs } from "./progress.ts"
import type { Format } from "./progress.ts"

/** The command line of `run`. */
export interface RunOptions {
  readonly pipeline: string
  readonly inputs: Option.Option<Record<string, string>>
  readonly vars: Option.Option<Record<string, string>>
  readonly nats: Option.Option<string>
  readonly modules: ReadonlyArray<string>
  readonly json: boolean
}

const write = (text: string) => Effect.sync(() => void process.stdout.write(text))

/** Runs the pipeline and prints its progress; fails when it is rejected or does not succeed. */
export const runPipeline = Effect.fnUntraced(function* ({ inputs, json, modules, nats, pipeline, vars }: RunOptions) {
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
  const { maxPipelineBytes, maxStages } = yield* pipelineLimits
  const parsed = yield* parsePipeline({ file: pipeline, text, maxStages, maxBytes: maxPipelineBytes }).pipe(
    Effect.catchTag("PipelineInvalidError", reject)
  )
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
      let startedAt: number | undefined
      yield* submitted.events.pipe(
        Stream.runForEach((event) =>
          Effect.gen(function* () {
            if (event.kind === "run.started") startedAt = event.at
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
        const report = yield* summary.render({
          runId: submitted.runId,
          state: finalState,
          inputs: record?.inputs ?? {},
          ledger: record?.ledger ?? {}
        })
        yield* write(`${state}${report}finished in ${formatMs(runDurationMs({ record, startedAt, finishedAt: last.at }))}\n`)
      }
      return { runId: submitted.runId, status: last?.status ?? "unknown" }
    })
  ).pipe(Effect.provide(clientLayer(url, definitions)))
  if (outcome.status !== "succeeded") return yield* new RunNotSucceededError(outcome)
})
