/**
 * Settings of the registry service: when a silent pool counts as offline and
 * how often liveness is checked. Defaults apply unless a layer provides other
 * values; `RegistryConfig.layerFromEnv` reads `SWITCHYARD_REGISTRY_*`.
 */
import { Config, Context, Duration, Effect, Layer } from "effect"

/** The registry's settings. */
export interface RegistryConfigShape {
  /**
   * A pool with no heartbeat from any replica for this long is marked offline.
   * @default "15 seconds"
   */
  readonly offlineAfter: Duration.Duration
  /**
   * How often pool liveness is checked.
   * @default "1 second"
   */
  readonly sweepInterval: Duration.Duration
  /**
   * A replica silent for this long is forgotten (its last-seen record deleted).
   * @default "1 hour"
   */
  readonly forgetReplicaAfter: Duration.Duration
}

/** Default settings. */
export const registryConfigDefaults: RegistryConfigShape = {
  offlineAfter: Duration.seconds(15),
  sweepInterval: Duration.seconds(1),
  forgetReplicaAfter: Duration.hours(1)
}

/** The registry's settings; defaults to `registryConfigDefaults`. */
export class RegistryConfig extends Context.Reference<RegistryConfigShape>("switchyard/registry/RegistryConfig", {
  defaultValue: () => registryConfigDefaults
}) {
  /** Settings with some fields overridden, e.g. `{ offlineAfter: "500 millis" }`. */
  static readonly layerWith = (overrides: { readonly [K in keyof RegistryConfigShape]?: Duration.Input }): Layer.Layer<never> =>
    Layer.succeed(RegistryConfig, {
      offlineAfter: Duration.fromInputUnsafe(overrides.offlineAfter ?? registryConfigDefaults.offlineAfter),
      sweepInterval: Duration.fromInputUnsafe(overrides.sweepInterval ?? registryConfigDefaults.sweepInterval),
      forgetReplicaAfter: Duration.fromInputUnsafe(overrides.forgetReplicaAfter ?? registryConfigDefaults.forgetReplicaAfter)
    })

  /**
   * Reads `SWITCHYARD_REGISTRY_OFFLINE_AFTER`, `SWITCHYARD_REGISTRY_SWEEP_INTERVAL`
   * and `SWITCHYARD_REGISTRY_FORGET_REPLICA_AFTER` (durations such as `15 seconds`).
   */
  static readonly layerFromEnv: Layer.Layer<never, Config.ConfigError> = Layer.effect(
    RegistryConfig,
    Effect.gen(function* () {
      const duration = (name: string, fallback: Duration.Duration) => Config.Duration(name).pipe(Config.withDefault(fallback))
      return yield* Config.all({
        offlineAfter: duration("SWITCHYARD_REGISTRY_OFFLINE_AFTER", registryConfigDefaults.offlineAfter),
        sweepInterval: duration("SWITCHYARD_REGISTRY_SWEEP_INTERVAL", registryConfigDefaults.sweepInterval),
        forgetReplicaAfter: duration("SWITCHYARD_REGISTRY_FORGET_REPLICA_AFTER", registryConfigDefaults.forgetReplicaAfter)
      })
    })
  )
}
