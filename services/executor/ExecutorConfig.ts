/**
 * The settings of one executor replica: which pool it serves, how many tasks
 * it runs at once, the lease (ack wait) and redelivery limits of the pool's
 * shared consumer, its heartbeat, registration and shutdown timings, and its
 * own vars (`SWITCHYARD_VAR_<KEY>`).
 * Read from `SWITCHYARD_*` environment variables with `layerConfig`, or given
 * in code with `layer`; both fill the same defaults.
 */
import { randomUUID } from "node:crypto"
import { hostname } from "node:os"
import { Config, ConfigProvider, Context, Duration, Effect, Layer, Option, Schema } from "effect"

/** Options accepted in code; every field but `pool` has a default. */
export interface ExecutorOptions {
  /** The pool this replica serves (one durable consumer per pool). */
  readonly pool: string
  /** Names this replica in heartbeats and results. @default "<hostname>-<pid>-<random>" */
  readonly executorId?: string
  /** Tasks this replica runs at once. @default 8 */
  readonly slots?: number
  /** How often the replica announces itself on `stage.heartbeat`. @default "5 seconds" */
  readonly heartbeatInterval?: Duration.Input
  /** Lease of a task: unacked for this long, it is redelivered. @default "30 seconds" */
  readonly ackWait?: Duration.Input
  /**
   * Deliveries of one task message before it is dead-lettered. A delivery is not an attempt: a
   * task comes back after a replica crashed or paused, or the server restarted, without having
   * failed; attempts are the scheduler's retries, and a task that crashes its replicas is caught
   * by `crashLimit` long before this. A last resort. @default 20
   */
  readonly maxDeliver?: number
  /** Leased-but-unacked tasks across the whole pool. @default slots * 4 */
  readonly maxAckPending?: number
  /**
   * Times a redelivered task may crash the replicas that run it alone before it
   * is dead-lettered as poison. Keep it below `maxDeliver - 1`, or the server
   * dead-letters it first (for exhausting its deliveries). @default 2
   */
  readonly crashLimit?: number
  /** How long one `stage.register` request waits for the registry. @default "5 seconds" */
  readonly registerTimeout?: Duration.Input
  /** How long in-flight tasks may finish after shutdown starts. @default "30 seconds" */
  readonly shutdownGrace?: Duration.Input
  /** How often a running task renews its lease. @default ackWait / 3 */
  readonly progressInterval?: Duration.Input
  /**
   * The largest encoded result sent; a bigger one is replaced by a failed result
   * saying so (NATS refuses messages over its max payload, 1 MiB by default).
   * @default 1000000
   */
  readonly maxResultBytes?: number
  /**
   * Bytes of JSON past which a stage's output is stored as a blob and its result carries the
   * reference.
   * @default 65536
   */
  readonly blobThreshold?: number
  /**
   * This executor's values of `{{ vars.KEY }}` and `ctx.vars`: the lowest
   * precedence, under the pipeline's `vars:` and the submit's (`--var`).
   * @default {}
   */
  readonly vars?: Readonly<Record<string, string>>
}

/** Resolved settings. */
export interface ExecutorSettings {
  readonly pool: string
  readonly executorId: string
  readonly slots: number
  readonly heartbeatInterval: Duration.Duration
  readonly ackWait: Duration.Duration
  readonly maxDeliver: number
  readonly maxAckPending: number
  readonly crashLimit: number
  readonly registerTimeout: Duration.Duration
  readonly shutdownGrace: Duration.Duration
  readonly progressInterval: Duration.Duration
  readonly maxResultBytes: number
  readonly blobThreshold: number
  readonly vars: Readonly<Record<string, string>>
}

/** The executor's settings. */
export class ExecutorConfig extends Context.Service<ExecutorConfig, ExecutorSettings>()("switchyard/executor/ExecutorConfig") {
  /** Settings given in code. */
  static readonly layer = (options: ExecutorOptions): Layer.Layer<ExecutorConfig> => Layer.effect(ExecutorConfig, resolve(options))

  /**
   * Settings from the environment; `overrides` (e.g. command-line flags) win.
   *
   * - `SWITCHYARD_POOL` @default "default"
   * - `SWITCHYARD_EXECUTOR_ID` @default "<hostname>-<pid>-<random>"
   * - `SWITCHYARD_SLOTS` @default 8
   * - `SWITCHYARD_HEARTBEAT_INTERVAL` @default "5 seconds"
   * - `SWITCHYARD_ACK_WAIT` @default "30 seconds"
   * - `SWITCHYARD_MAX_DELIVER` @default 20
   * - `SWITCHYARD_MAX_ACK_PENDING` @default slots * 4
   * - `SWITCHYARD_CRASH_LIMIT` @default 2
   * - `SWITCHYARD_REGISTER_TIMEOUT` @default "5 seconds"
   * - `SWITCHYARD_SHUTDOWN_GRACE` @default "30 seconds"
   * - `SWITCHYARD_VAR_<KEY>`: the var `KEY` (the rest of the name as written) @default none
   */
  static readonly layerConfig = (overrides: Partial<ExecutorOptions> = {}): Layer.Layer<ExecutorConfig, Config.ConfigError> =>
    Layer.effect(
      ExecutorConfig,
      Effect.gen(function* () {
        const env = yield* Config.all({
          pool: Config.String("SWITCHYARD_POOL").pipe(Config.withDefault("default")),
          executorId: Config.option(Config.String("SWITCHYARD_EXECUTOR_ID")),
          slots: Config.option(Config.schema(PositiveInt, "SWITCHYARD_SLOTS")),
          heartbeatInterval: Config.option(Config.Duration("SWITCHYARD_HEARTBEAT_INTERVAL")),
          ackWait: Config.option(Config.Duration("SWITCHYARD_ACK_WAIT")),
          maxDeliver: Config.option(Config.schema(PositiveInt, "SWITCHYARD_MAX_DELIVER")),
          maxAckPending: Config.option(Config.schema(PositiveInt, "SWITCHYARD_MAX_ACK_PENDING")),
          crashLimit: Config.option(Config.schema(PositiveInt, "SWITCHYARD_CRASH_LIMIT")),
          registerTimeout: Config.option(Config.Duration("SWITCHYARD_REGISTER_TIMEOUT")),
          shutdownGrace: Config.option(Config.Duration("SWITCHYARD_SHUTDOWN_GRACE")),
          maxResultBytes: Config.option(Config.schema(PositiveInt, "SWITCHYARD_MAX_RESULT_BYTES")),
          blobThreshold: Config.option(Config.schema(PositiveInt, "SWITCHYARD_BLOB_THRESHOLD"))
        })
        const vars = yield* prefixed(["SWITCHYARD", "VAR"]).pipe(Effect.mapError((error) => new Config.ConfigError(error)))
        const fromEnv: ExecutorOptions = {
          pool: env.pool,
          ...(Object.keys(vars).length === 0 ? {} : { vars }),
          ...present("executorId", env.executorId),
          ...present("slots", env.slots),
          ...present("heartbeatInterval", env.heartbeatInterval),
          ...present("ackWait", env.ackWait),
          ...present("maxDeliver", env.maxDeliver),
          ...present("maxAckPending", env.maxAckPending),
          ...present("crashLimit", env.crashLimit),
          ...present("registerTimeout", env.registerTimeout),
          ...present("shutdownGrace", env.shutdownGrace),
          ...present("maxResultBytes", env.maxResultBytes),
          ...present("blobThreshold", env.blobThreshold)
        }
        return yield* resolve({ ...fromEnv, ...overrides })
      })
    )
}

/**
 * Every value under a path of the config provider, by the rest of its name: the env provider splits
 * names on `_` into a tree, so the tree below `SWITCHYARD_VAR` is walked and the segments joined again
 * (`SWITCHYARD_VAR_API_BASE` is `API_BASE`).
 */
const prefixed = (prefix: ConfigProvider.Path): Effect.Effect<Record<string, string>, ConfigProvider.SourceError> =>
  Effect.gen(function* () {
    const provider = yield* ConfigProvider.ConfigProvider
    const found: Record<string, string> = {}
    const walk = (path: ConfigProvider.Path, name: string): Effect.Effect<void, ConfigProvider.SourceError> =>
      Effect.gen(function* () {
        const node = yield* provider.load(path)
        if (node === undefined) return
        if (node.value !== undefined && name !== "") found[name] = node.value
        const children =
          node._tag === "Record" ? [...node.keys] : node._tag === "Array" ? Array.from({ length: node.length }, (_, i) => i) : []
        for (const child of children) yield* walk([...path, child], name === "" ? String(child) : `${name}_${child}`)
      })
    yield* walk(prefix, "")
    return found
  })

const PositiveInt = Schema.NumberFromString.pipe(Schema.decodeTo(Schema.Int.pipe(Schema.check(Schema.isGreaterThan(0)))))

const present = <K extends string, A>(key: K, value: Option.Option<A>): { readonly [P in K]?: A } =>
  (Option.isSome(value) ? { [key]: value.value } : {}) as { readonly [P in K]?: A }

const resolve = (options: ExecutorOptions): Effect.Effect<ExecutorSettings> =>
  Effect.sync(() => {
    const slots = options.slots ?? 8
    const ackWait = Duration.fromInputUnsafe(options.ackWait ?? "30 seconds")
    return {
      pool: options.pool,
      executorId: options.executorId ?? `${hostname()}-${process.pid}-${randomUUID().slice(0, 8)}`,
      slots,
      heartbeatInterval: Duration.fromInputUnsafe(options.heartbeatInterval ?? "5 seconds"),
      ackWait,
      maxDeliver: options.maxDeliver ?? 20,
      maxAckPending: options.maxAckPending ?? slots * 4,
      crashLimit: options.crashLimit ?? 2,
      registerTimeout: Duration.fromInputUnsafe(options.registerTimeout ?? "5 seconds"),
      shutdownGrace: Duration.fromInputUnsafe(options.shutdownGrace ?? "30 seconds"),
      // Three renewals per lease leave room for one to be late.
      progressInterval: Duration.fromInputUnsafe(options.progressInterval ?? Duration.divideUnsafe(ackWait, 3)),
      maxResultBytes: options.maxResultBytes ?? 1_000_000,
      blobThreshold: options.blobThreshold ?? 64 * 1024,
      vars: options.vars ?? {}
    }
  })
