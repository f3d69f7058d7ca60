/**
 * The pipeline definition: a YAML DAG of stages. The scheduler decodes it with
 * this schema, then checks it against the registry (types, cycles, ordering).
 */
import { Schema } from "effect"

/**
 * Vars by name: strings under the names `{{ vars.KEY }}` can reference
 * (letters, digits and `_`, not starting with a digit).
 */
export const Vars = Schema.Record(Schema.String, Schema.String).check(
  Schema.isPropertyNames(
    Schema.String.check(
      Schema.isPattern(/^[A-Za-z_][A-Za-z0-9_]*$/u, { message: "expected a var name (letters, digits and _, not starting with a digit)" })
    )
  )
)

/** Retry policy of one stage. */
export class RetryPolicy extends Schema.Class<RetryPolicy>("switchyard/RetryPolicy")({
  /** Total attempts including the first. */
  max_attempts: Schema.Int.pipe(Schema.check(Schema.isGreaterThan(0))),
  /** First backoff in milliseconds; doubled (by `factor`) each retry. */
  backoff_ms: Schema.optionalKey(Schema.Int.pipe(Schema.check(Schema.isGreaterThanOrEqualTo(0)))),
  factor: Schema.optionalKey(Schema.Number.pipe(Schema.check(Schema.isGreaterThanOrEqualTo(1)))),
  max_backoff_ms: Schema.optionalKey(Schema.Int.pipe(Schema.check(Schema.isGreaterThanOrEqualTo(0))))
}) {}

/**
 * Per-stage changes to its type's metadata, for this pipeline only (say, a
 * different state key); checked with the same rules as a registration.
 */
export class MetadataOverride extends Schema.Class<MetadataOverride>("switchyard/MetadataOverride")({
  stateKey: Schema.optionalKey(Schema.NullOr(Schema.Union([Schema.String, Schema.Array(Schema.String)]))),
  output: Schema.optionalKey(Schema.String),
  count: Schema.optionalKey(Schema.String)
}) {}

/** Plugins the pipeline needs: folders holding `plugin.yaml` files, and installed npm packages. */
export class PipelinePlugins extends Schema.Class<PipelinePlugins>("switchyard/PipelinePlugins")({
  /** Plugin folders (or folders of plugin folders), relative to the pipeline file. */
  paths: Schema.optionalKey(Schema.Array(Schema.String)),
  /** npm package names installed in the project's node_modules. */
  packages: Schema.optionalKey(Schema.Array(Schema.String))
}) {}

/** One stage of a pipeline. */
export class PipelineStage extends Schema.Class<PipelineStage>("switchyard/PipelineStage")({
  name: Schema.String.pipe(
    Schema.check(Schema.isPattern(/^[A-Za-z_][A-Za-z0-9_-]*$/u, { message: "expected a stage name (letters, digits, _ and -)" }))
  ),
  type: Schema.String,
  /** Values may be `{{ inputs.x }}` or `{{ state.y }}` templates. */
  inputs: Schema.optionalKey(Schema.Record(Schema.String, Schema.Json)),
  /** Settings passed to the stage with its inputs, as written (no templates); an input of the same name wins. */
  config: Schema.optionalKey(Schema.Record(Schema.String, Schema.Json)),
  /** Changes to the stage type's metadata for this stage. */
  metadata: Schema.optionalKey(MetadataOverride),
  depends_on: Schema.optionalKey(Schema.Array(Schema.String)),
  retries: Schema.optionalKey(RetryPolicy),
  /** Milliseconds; overrides the stage type's timeout. */
  timeout_ms: Schema.optionalKey(Schema.Int.pipe(Schema.check(Schema.isGreaterThan(0)))),
  /**
   * Runs the stage once per item (or batch of items) of a list: a template such as
   * `{{ state.payloads }}`. Each task's inputs see its items as `{{ items }}` (a list) and,
   * with `batch: 1`, the one item as `{{ item }}`.
   */
  for_each: Schema.optionalKey(Schema.String),
  /**
   * Items per task of a `for_each` stage.
   * @default 1
   */
  batch: Schema.optionalKey(Schema.Int.pipe(Schema.check(Schema.isGreaterThan(0)))),
  /**
   * Tasks of a `for_each` stage in flight at once, across all replicas of its pool.
   * @default 16
   */
  max_parallel: Schema.optionalKey(Schema.Int.pipe(Schema.check(Schema.isGreaterThan(0)))),
  /**
   * What a `for_each` stage does when a task fails for good (after its retries): the stage
   * fails (`fail`), or the task's items are recorded as skipped and the stage goes on (`skip`).
   * @default "fail"
   */
  on_item_failure: Schema.optionalKey(Schema.Literals(["fail", "skip"]))
}) {}

/** A pipeline file. */
export class Pipeline extends Schema.Class<Pipeline>("switchyard/Pipeline")({
  name: Schema.String,
  description: Schema.optionalKey(Schema.String),
  /**
   * `restricted` runs only stages in the docker runtime with declared capabilities.
   * @default "trusted"
   */
  permissions: Schema.optionalKey(Schema.Literals(["trusted", "restricted"])),
  /** Plugins to load for this pipeline (embedded runs load them; distributed executors must serve them). */
  plugins: Schema.optionalKey(PipelinePlugins),
  /** Default values of run inputs. */
  inputs: Schema.optionalKey(Schema.Record(Schema.String, Schema.Json)),
  /**
   * Values of `{{ vars.KEY }}` and `ctx.vars` for every stage of the run; they
   * override the executor's own (`SWITCHYARD_VAR_<KEY>`) and `--var` overrides them.
   */
  vars: Schema.optionalKey(Vars),
  stages: Schema.Array(PipelineStage),
  /**
   * What a run does when a dispatched stage's pool has no live executor for the scheduler's
   * `SWITCHYARD_UNSCHEDULABLE_AFTER`: it reports `stage.unschedulable` and keeps waiting
   * (`wait`) or also fails the stage and the run (`fail`).
   * @default "wait"
   */
  on_unschedulable: Schema.optionalKey(Schema.Literals(["wait", "fail"])),
  /**
   * What `switchyard run` prints when the run ends: a label per line and a
   * template over the final state, inputs and ledger (a list shows as its length).
   */
  summary: Schema.optionalKey(Schema.Record(Schema.String, Schema.String))
}) {}
