/**
 * Announcing a pool's stage types to the registry over `stage.register`
 * (through `RegistryClient`), and remembering what it refused. A stage type
 * the registry rejected is not served; until the registry has answered,
 * every type in the catalog is.
 */
import { Duration, Effect, Layer, Schedule } from "effect"
import { Bus } from "../../bus/Bus.ts"
import { RegistryClient } from "../../registry/index.ts"
import type { StageDefinition } from "../../../sdk/Stage.ts"
import type { RegistrationReply, StageRejection } from "../../../schemas/Registry.ts"
import { StageRegistration } from "../../../schemas/Registry.ts"
import type { ExecutorSettings } from "../ExecutorConfig.ts"

/** Stage types the registry refused, with its reasons. */
export type Rejections = ReadonlyMap<string, StageRejection>

/** Backoff between registration attempts while the registry does not answer. */
const retrySchedule = Schedule.exponential("500 millis", 2).pipe(
  Schedule.modifyDelay(({ duration }) => Effect.succeed(Duration.min(duration, Duration.seconds(30))))
)

/** Registration of one replica's stage types. */
export const makeRegistration = (options: {
  readonly bus: Bus["Service"]
  readonly settings: ExecutorSettings
  readonly definitions: ReadonlyArray<StageDefinition>
}) =>
  Effect.gen(function* () {
    const { bus, definitions, settings } = options
    const client = yield* Effect.provide(
      Effect.gen(function* () {
        return yield* RegistryClient
      }),
      RegistryClient.layerWith({ timeout: settings.registerTimeout }).pipe(Layer.provide(Layer.succeed(Bus, bus)))
    )
    // Read on every task, so kept as plain state rather than behind an effect.
    let rejections: Rejections = new Map()
    let registered = false

    // Inline stages share one runtime; metadata travels as data and the registry validates it.
    const registration = new StageRegistration({
      version: 1,
      pool: settings.pool,
      executorId: settings.executorId,
      runtime: definitions[0]?.metadata.runtime ?? "inline",
      stages: definitions.map((definition) => definition.metadata)
    })

    const applyReply = Effect.fnUntraced(function* (reply: RegistrationReply) {
      const refused = new Map<string, StageRejection>()
      for (const decision of reply.decisions) {
        if (decision.accepted || decision.rejection === undefined) continue
        refused.set(decision.type, decision.rejection)
        yield* Effect.logWarning(`the registry rejected stage type ${decision.type}; this replica will not serve it`, {
          pool: settings.pool,
          stageType: decision.type,
          code: decision.rejection.code,
          path: decision.rejection.path,
          reason: decision.rejection.message
        })
      }
      rejections = refused
      registered = true
      yield* Effect.logInfo(`registered ${reply.decisions.length - refused.size} stage type(s) for pool ${settings.pool}`, {
        pool: settings.pool,
        accepted: reply.decisions.filter((decision) => decision.accepted).map((decision) => decision.type),
        rejected: Array.from(refused.keys())
      })
    })

    /** One request to the registry; applies its answer. */
    const attempt = client
      .register(registration)
      .pipe(
        Effect.flatMap(applyReply),
        Effect.withSpan("Executor.register", { attributes: { pool: settings.pool, stageTypes: definitions.length } })
      )

    /** Retries `attempt` with capped exponential backoff until the registry answers. */
    const retryUntilRegistered = attempt.pipe(
      Effect.tapError((error) =>
        Effect.logDebug("registry not answering yet; will retry registration", { pool: settings.pool, error: error.message })
      ),
      Effect.retry({ schedule: retrySchedule })
    )

    return {
      attempt,
      retryUntilRegistered,
      rejections: Effect.sync(() => rejections),
      /** The rejections as they stand now, for the per-task path. */
      currentRejections: (): Rejections => rejections,
      registered: Effect.sync(() => registered)
    } as const
  })
