/**
 * Scheduler settings, read from `SWITCHYARD_*` environment variables or given
 * in code.
 */
import { Config, Context, Duration, Effect, Layer } from "effect"

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
   * How long to wait for the registry when validating a pipeline.
   * @default 5 seconds
   */
  readonly registryTimeout: Duration.Duration
}

/** Scheduler settings service. */
export class SchedulerConfig extends Context.Service<SchedulerConfig, SchedulerSettings>()("switchyard/scheduler/SchedulerConfig") {
  /** Settings given in code, defaults for the rest. */
  static readonly layer = (options: Partial<SchedulerSettings> = {}): Layer.Layer<SchedulerConfig> =>
    Layer.succeed(SchedulerConfig, SchedulerConfig.of({ ...defaults, ...options }))

  /** Settings from `SWITCHYARD_RESULT_ACK_WAIT`, `SWITCHYARD_RESULT_CONCURRENCY`, `SWITCHYARD_REGISTRY_TIMEOUT`. */
  static readonly layerConfig: Layer.Layer<SchedulerConfig, Config.ConfigError> = Layer.effect(
    SchedulerConfig,
    Effect.gen(function*() {
      const resultAckWait = yield* Config.Duration("SWITCHYARD_RESULT_ACK_WAIT").pipe(Config.withDefault(defaults.resultAckWait))
      const resultConcurrency = yield* Config.Int("SWITCHYARD_RESULT_CONCURRENCY").pipe(Config.withDefault(defaults.resultConcurrency))
      const registryTimeout = yield* Config.Duration("SWITCHYARD_REGISTRY_TIMEOUT").pipe(Config.withDefault(defaults.registryTimeout))
      return SchedulerConfig.of({ resultAckWait, resultConcurrency, registryTimeout })
    })
  )
}

const defaults: SchedulerSettings = {
  resultAckWait: Duration.seconds(30),
  resultConcurrency: 256,
  registryTimeout: Duration.seconds(5)
}
