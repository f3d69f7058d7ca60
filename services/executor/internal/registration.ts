/**
 * A replica's standing with the registry (through `RegistryClient`):
 * announcing stage types on `stage.register`, remembering what the registry
 * refused, and withdrawing types on `stage.deregister`, one request per
 * owning plugin. A stage type the registry rejected is not served; until the
 * registry has answered, every type in the catalog is. Heartbeats go to the
 * registry as requests too, so its answer can name types it no longer knows.
 */
import { Duration, Effect, Layer, Schedule } from "effect"
import { Bus } from "@switchyard/bus/Bus"
import { RegistryClient } from "../../registry/index.ts"
import type { StageDefinition } from "@switchyard/schemas/Stage"
import type { Heartbeat, RegistrationReply, StageRejection } from "@switchyard/schemas/Registry"
import { StageDeregistration, StageRegistration } from "@switchyard/schemas/Registry"
import type { ExecutorSettings } from "../ExecutorConfig.ts"
import type { StageCatalog } from "../StageCatalog.ts"

/** Stage types the registry refused, with its reasons. */
export type Rejections = ReadonlyMap<string, StageRejection>

/** Why a replica withdraws stage types. */
export type WithdrawReason = StageDeregistration["reason"]

/** Backoff between registration attempts while the registry does not answer. */
const retrySchedule = Schedule.exponential("500 millis", 2).pipe(
  Schedule.modifyDelay(({ duration }) => Effect.succeed(Duration.min(duration, Duration.seconds(30))))
)

const typesOf = (definitions: ReadonlyArray<StageDefinition>) => definitions.map((definition) => definition.metadata.type)

/** Registration of one replica's stage types. */
export const makeRegistration = (options: {
  readonly bus: Bus["Service"]
  readonly settings: ExecutorSettings
  readonly catalog: StageCatalog["Service"]
}) =>
  Effect.gen(function* () {
    const { bus, catalog, settings } = options
    const client = yield* Effect.provide(
      Effect.gen(function* () {
        return yield* RegistryClient
      }),
      RegistryClient.layerWith({ timeout: settings.registerTimeout }).pipe(Layer.provide(Layer.succeed(Bus, bus)))
    )
    // Read on every task, so kept as plain state rather than behind an effect.
    let rejections: Map<string, StageRejection> = new Map()
    let registered = false

    const applyReply = Effect.fnUntraced(function* (reply: RegistrationReply, definitions: ReadonlyArray<StageDefinition>) {
      // The answer covers the types of this registration only: what it says of others stands.
      const next = new Map(rejections)
      for (const type of typesOf(definitions)) next.delete(type)
      for (const decision of reply.decisions) {
        if (decision.accepted || decision.rejection === undefined) continue
        next.set(decision.type, decision.rejection)
        yield* Effect.logWarning(`the registry rejected stage type ${decision.type}; this replica will not serve it`, {
          pool: settings.pool,
          stageType: decision.type,
          code: decision.rejection.code,
          path: decision.rejection.path,
          reason: decision.rejection.message
        })
      }
      rejections = next
      registered = true
      const accepted = reply.decisions.filter((decision) => decision.accepted).map((decision) => decision.type)
      yield* Effect.logInfo(`registered ${accepted.length} stage type(s) for pool ${settings.pool}`, {
        pool: settings.pool,
        accepted,
        rejected: reply.decisions.filter((decision) => !decision.accepted).map((decision) => decision.type)
      })
    })

    /** One request announcing `definitions`; applies the registry's answer. */
    const announce = (definitions: ReadonlyArray<StageDefinition>) =>
      client
        .register(
          // Inline stages share one runtime; metadata travels as data and the registry validates it.
          new StageRegistration({
            version: 1,
            pool: settings.pool,
            executorId: settings.executorId,
            runtime: definitions[0]?.metadata.runtime ?? "inline",
            stages: definitions.map((definition) => definition.metadata)
          })
        )
        .pipe(
          Effect.flatMap((reply) => applyReply(reply, definitions)),
          Effect.withSpan("Executor.register", { attributes: { pool: settings.pool, stageTypes: definitions.length } })
        )

    /** One request announcing the whole catalog. */
    const attempt = Effect.suspend(() => announce(catalog.definitions()))

    /** Retries `attempt` with capped exponential backoff until the registry answers. */
    const retryUntilRegistered = attempt.pipe(
      Effect.tapError((error) =>
        Effect.logDebug("registry not answering yet; will retry registration", { pool: settings.pool, error: error.message })
      ),
      Effect.retry({ schedule: retrySchedule })
    )

    /**
     * Withdraws `definitions` from the registry, one request per owning
     * plugin; never fails: a registry that does not answer is logged.
     */
    const withdraw = Effect.fnUntraced(function* (definitions: ReadonlyArray<StageDefinition>, reason: WithdrawReason) {
      const byPlugin = new Map<string, Array<string>>()
      for (const definition of definitions) {
        if (rejections.has(definition.metadata.type)) continue
        const types = byPlugin.get(definition.metadata.plugin)
        if (types === undefined) byPlugin.set(definition.metadata.plugin, [definition.metadata.type])
        else types.push(definition.metadata.type)
      }
      const remaining = new Map(rejections)
      for (const type of typesOf(definitions)) remaining.delete(type)
      rejections = remaining
      yield* Effect.forEach(
        byPlugin,
        ([plugin, types]) =>
          client
            .deregister(
              new StageDeregistration({ version: 1, pool: settings.pool, executorId: settings.executorId, plugin, types, reason })
            )
            .pipe(
              Effect.flatMap((reply) =>
                Effect.logInfo(`deregistered ${types.length} stage type(s) of plugin ${plugin} for pool ${settings.pool}`, {
                  pool: settings.pool,
                  plugin,
                  reason,
                  removed: reply.decisions.filter((decision) => decision.removed).map((decision) => decision.type),
                  kept: reply.decisions.flatMap((decision) =>
                    decision.kept === undefined ? [] : [`${decision.type}: ${decision.kept.code} (${decision.kept.message})`]
                  )
                })
              ),
              Effect.catch((error) =>
                Effect.logWarning(`could not deregister the stage types of plugin ${plugin}; the registry marks them offline later`, {
                  pool: settings.pool,
                  plugin,
                  types,
                  error: error.message
                })
              ),
              Effect.withSpan("Executor.deregister", { attributes: { pool: settings.pool, plugin, reason, stageTypes: types.length } })
            ),
        { concurrency: 8, discard: true }
      )
    })

    /** The stage types served now: the catalog minus what the registry rejected. */
    const served = (): ReadonlyArray<string> => typesOf(catalog.definitions()).filter((type) => !rejections.has(type))

    return {
      attempt,
      retryUntilRegistered,
      /** Sends one heartbeat and waits for the registry to record it. */
      heartbeat: (beat: Heartbeat) => client.heartbeat(beat),
      announce,
      withdraw,
      served,
      /** The rejections as they stand now, for the per-task path. */
      currentRejections: (): Rejections => rejections,
      registered: Effect.sync(() => registered)
    } as const
  })
