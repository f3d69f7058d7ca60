/**
 * The pipeline definition: a YAML DAG of stages. The scheduler decodes it with
 * this schema, then checks it against the registry (types, cycles, ordering).
 */
import { Schema } from "effect"

/** Retry policy of one stage. */
export class RetryPolicy extends Schema.Class<RetryPolicy>("switchyard/RetryPolicy")({
  /** Total attempts including the first. */
  max_attempts: Schema.Int.pipe(Schema.check(Schema.isGreaterThan(0))),
  /** First backoff in milliseconds; doubled (by `factor`) each retry. */
  backoff_ms: Schema.optionalKey(Schema.Int.pipe(Schema.check(Schema.isGreaterThanOrEqualTo(0)))),
  factor: Schema.optionalKey(Schema.Number.pipe(Schema.check(Schema.isGreaterThanOrEqualTo(1)))),
  max_backoff_ms: Schema.optionalKey(Schema.Int.pipe(Schema.check(Schema.isGreaterThanOrEqualTo(0))))
}) {}

/** One stage of a pipeline. */
export class PipelineStage extends Schema.Class<PipelineStage>("switchyard/PipelineStage")({
  name: Schema.String.pipe(
    Schema.check(Schema.isPattern(/^[A-Za-z_][A-Za-z0-9_-]*$/u, { message: "expected a stage name (letters, digits, _ and -)" }))
  ),
  type: Schema.String,
  /** Values may be `{{ inputs.x }}` or `{{ state.y }}` templates. */
  inputs: Schema.optionalKey(Schema.Record(Schema.String, Schema.Json)),
  depends_on: Schema.optionalKey(Schema.Array(Schema.String)),
  retries: Schema.optionalKey(RetryPolicy),
  /** Milliseconds; overrides the stage type's timeout. */
  timeout_ms: Schema.optionalKey(Schema.Int.pipe(Schema.check(Schema.isGreaterThan(0))))
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
  /** Default values of run inputs. */
  inputs: Schema.optionalKey(Schema.Record(Schema.String, Schema.Json)),
  stages: Schema.Array(PipelineStage)
}) {}
