/**
 * Scheduler settings, read from `SWITCHYARD_*` environment variables or given
 * in code.
 */
import { Config, Context, Duration, Effect, Layer, Schema } from "effect"
import { defaultMaxFileBytes, defaultMaxStages } from "@switchyard/schemas/InputLimits"

/** Scheduler settings. */
export interface SchedulerSettings {
  /**
   * Lease on a result being applied before it is redelivered.
   * @default 30 seconds
   */
  readonly resultAckWait: Duration.Duration
  /**
   * Results applied concurrently (across runs; one at a time per run).
   * @default 256
   */
  readonly resultConcurrency: number
  /**
   * How long a stage type the registry resolved is trusted without asking again.
   * @default 2 seconds
   */
  readonly stageCacheTtl: Duration.Duration
  /**
   * `run.submit`, `run.cancel` and ledger updates handled at once.
   * @default 64
   */
  readonly requestConcurrency: number
  /**
   * How long a task that could not be sent to its pool is sent again (with backoff) before its
   * stage fails with `TaskDispatchError`.
   * @default 30 seconds
   */
  readonly dispatchRetryWindow: Duration.Duration
  /**
   * How long `run.cancel` waits for executors to confirm they stopped the run's running tasks
   * before it answers anyway.
   * @default 3 seconds
   */
  readonly cancelConfirmTimeout: Duration.Duration
  /**
   * How long a dispatched stage may wait while the registry knows no live executor of its pool
   * before its run reports `stage.unschedulable` (and fails, with `on_unschedulable: fail`).
   * @default 30 seconds
   */
  readonly unschedulableAfter: Duration.Duration
  /**
   * How often runs whose effects failed (an event, a timer, loading or combining a stage's items)
   * are reconciled: what they still owe is derived again from their records and carried out, and
   * their watchers are told where every stage is.
   * @default 5 seconds
   */
  readonly reconcileInterval: Duration.Duration
  /**
   * Bytes of JSON past which a value goes by blob reference: a task's input, a combined
   * `for_each` output, a state slot.
   * @default 65536
   */
  readonly blobThreshold: number
  /**
   * Stages a submitted pipeline may have; one with more is refused before it is decoded.
   * @default 1000
   */
  readonly maxStages: number
  /**
   * Bytes of pipeline text a submit may carry; a longer one is refused before it is parsed.
   * @default 1048576 (1 MiB)
   */
  readonly maxPipelineBytes: number
}

/** Scheduler settings service. */
export class SchedulerConfig extends Context.Service<SchedulerConfig, SchedulerSettings>()("switchyard/scheduler/SchedulerConfig") {
  /** Settings given in code, defaults for the rest. */
  static readonly layer = (options: Partial<SchedulerSettings> = {}): Layer.Layer<SchedulerConfig> =>
    Layer.succeed(SchedulerConfig, SchedulerConfig.of({ ...defaults, ...options }))

  /**
   * Settings from `SWITCHYARD_RESULT_ACK_WAIT`, `SWITCHYARD_RESULT_CONCURRENCY`,
   * `SWITCHYARD_STAGE_CACHE_TTL`, `SWITCHYARD_REQUEST_CONCURRENCY`,
   * `SWITCHYARD_DISPATCH_RETRY_WINDOW`, `SWITCHYARD_CANCEL_CONFIRM_TIMEOUT`,
   * `SWITCHYARD_UNSCHEDULABLE_AFTER`, `SWITCHYARD_RECONCILE_INTERVAL`, `SWITCHYARD_BLOB_THRESHOLD`, `SWITCHYARD_MAX_STAGES` and
   * `SWITCHYARD_MAX_PIPELINE_BYTES`.
   */
  static readonly layerConfig: Layer.Layer<SchedulerConfig, Config.ConfigError> = Layer.effect(
    SchedulerConfig,
    Effect.gen(function* () {
      const resultAckWait = yield* Config.Duration("SWITCHYARD_RESULT_ACK_WAIT").pipe(Config.withDefault(defaults.resultAckWait))
      const resultConcurrency = yield* Config.schema(PositiveInt, "SWITCHYARD_RESULT_CONCURRENCY").pipe(
        Config.withDefault(defaults.resultConcurrency)
      )
      const stageCacheTtl = yield* Config.Duration("SWITCHYARD_STAGE_CACHE_TTL").pipe(Config.withDefault(defaults.stageCacheTtl))
      const requestConcurrency = yield* Config.schema(PositiveInt, "SWITCHYARD_REQUEST_CONCURRENCY").pipe(
        Config.withDefault(defaults.requestConcurrency)
      )
      const dispatchRetryWindow = yield* Config.Duration("SWITCHYARD_DISPATCH_RETRY_WINDOW").pipe(
        Config.withDefault(defaults.dispatchRetryWindow)
      )
      const cancelConfirmTimeout = yield* Config.Duration("SWITCHYARD_CANCEL_CONFIRM_TIMEOUT").pipe(
        Config.withDefault(defaults.cancelConfirmTimeout)
      )
      const unschedulableAfter = yield* Config.Duration("SWITCHYARD_UNSCHEDULABLE_AFTER").pipe(
        Config.withDefault(defaults.unschedulableAfter)
      )
      const reconcileInterval = yield* Config.Duration("SWITCHYARD_RECONCILE_INTERVAL").pipe(Config.withDefault(defaults.reconcileInterval))
      const blobThreshold = yield* Config.schema(PositiveInt, "SWITCHYARD_BLOB_THRESHOLD").pipe(Config.withDefault(defaults.blobThreshold))
      const { maxPipelineBytes, maxStages } = yield* pipelineLimits
      return SchedulerConfig.of({
        blobThreshold,
        maxStages,
        maxPipelineBytes,
        resultAckWait,
        resultConcurrency,
        stageCacheTtl,
        requestConcurrency,
        dispatchRetryWindow,
        cancelConfirmTimeout,
        unschedulableAfter,
        reconcileInterval
      })
    })
  )
}

/** A whole number above 0: a concurrency or a threshold of 0 would stop the scheduler. */
const PositiveInt = Schema.NumberFromString.pipe(Schema.decodeTo(Schema.Int.pipe(Schema.check(Schema.isGreaterThan(0)))))

/**
 * `SWITCHYARD_MAX_STAGES` and `SWITCHYARD_MAX_PIPELINE_BYTES`, read the same way by the scheduler
 * and by `switchyard run`, which checks a pipeline before it submits it.
 */
export const pipelineLimits: Config.Config<Pick<SchedulerSettings, "maxStages" | "maxPipelineBytes">> = Config.all({
  maxStages: Config.schema(PositiveInt, "SWITCHYARD_MAX_STAGES").pipe(Config.withDefault(defaultMaxStages)),
  maxPipelineBytes: Config.schema(PositiveInt, "SWITCHYARD_MAX_PIPELINE_BYTES").pipe(Config.withDefault(defaultMaxFileBytes))
})

const defaults: SchedulerSettings = {
  resultAckWait: Duration.seconds(30),
  resultConcurrency: 256,
  stageCacheTtl: Duration.seconds(2),
  requestConcurrency: 64,
  dispatchRetryWindow: Duration.seconds(30),
  cancelConfirmTimeout: Duration.seconds(3),
  unschedulableAfter: Duration.seconds(30),
  reconcileInterval: Duration.seconds(5),
  blobThreshold: 64 * 1024,
  maxStages: defaultMaxStages,
  maxPipelineBytes: defaultMaxFileBytes
}
