/**
 * The layer compositions the CLI starts: each distributed service on NATS,
 * the client against NATS, and the embedded default that runs the registry,
 * one executor and the scheduler in this process over the in-memory bus and
 * an in-memory blob store.
 * Nothing here does work of its own; it only wires layers.
 */
import { Layer } from "effect"
import type { Option } from "effect"
import type { Config } from "effect"
import { Bus } from "@switchyard/bus/Bus"
import type { BusError, KvConflictError } from "@switchyard/bus/BusError"
import * as MemoryBus from "@switchyard/bus/MemoryBus"
import * as MemoryBlobStore from "@switchyard/bus/MemoryBlobStore"
import type { BlobStore } from "@switchyard/bus/BlobStore"
import { Executor, ExecutorConfig, StageCatalog, secretsLayerConfig } from "../executor/index.ts"
import type { ExecutorOptions } from "../executor/index.ts"
import { PluginManager } from "../plugins/index.ts"
import { AuditLog, Registry, RegistryClient, RegistryConfig } from "../registry/index.ts"
import { RunStore, Scheduler, SchedulerConfig } from "../scheduler/index.ts"
import { SwitchyardClient } from "@switchyard/bus/SwitchyardClient"
import type { StageDefinition } from "@switchyard/schemas/Stage"
import { busLayer } from "./internal/busLayer.ts"
import { Telemetry } from "../telemetry/index.ts"

/**
 * A distributed service under its telemetry: traces and metrics as the
 * OpenTelemetry variables say, and with an HTTP port its health, readiness
 * and metrics endpoints.
 */
export const serviceLayer = <A, E>(
  service: Layer.Layer<A, E>,
  options: { readonly service: string; readonly httpPort: Option.Option<number> }
) => service.pipe(Layer.provide(Telemetry.layer(options)))

/** The pool the embedded executor serves. */
export const embeddedPool = "default"

export { busLayer }

/** The registry service, with its settings from the environment. */
export const registryLayer: Layer.Layer<Registry, BusError | Config.ConfigError, Bus> = Registry.layer.pipe(
  Layer.provide(RegistryConfig.layerFromEnv)
)

/** The scheduler service, with its settings from the environment. */
export const schedulerLayer: Layer.Layer<Scheduler, BusError | KvConflictError | Config.ConfigError, Bus | BlobStore> =
  Scheduler.layer.pipe(Layer.provide(RunStore.layer), Layer.provide(RegistryClient.layer), Layer.provide(SchedulerConfig.layerConfig))

/** An executor replica serving `definitions`, settings from the environment over `options`. */
export const executorLayer = (
  definitions: ReadonlyArray<StageDefinition>,
  options: Partial<ExecutorOptions>
): Layer.Layer<Executor, BusError | Config.ConfigError, Bus | BlobStore> =>
  Executor.layer.pipe(
    Layer.provide(ExecutorConfig.layerConfig(options)),
    Layer.provide(StageCatalog.layer(definitions)),
    Layer.provide(RegistryClient.layer),
    Layer.provide(secretsLayerConfig)
  )

/**
 * An executor replica serving `definitions` plus the plugins discovered in
 * `projectDir` (of the executor's runtime), loaded, followed and unloaded by
 * the `PluginManager`, which audits on `audit.executor`. The manager is built
 * first, so the replica's first registration already carries the plugins.
 */
export const pluginExecutorLayer = (
  definitions: ReadonlyArray<StageDefinition>,
  options: Partial<ExecutorOptions> & { readonly projectDir: string; readonly runtime: "inline" | "process" }
): Layer.Layer<Executor | PluginManager, BusError | Config.ConfigError, Bus | BlobStore> => {
  const { projectDir, runtime, ...executorOptions } = options
  return Executor.layer.pipe(
    Layer.provideMerge(PluginManager.layerConfig({ projectDir, runtime })),
    Layer.provideMerge(StageCatalog.layer(definitions)),
    Layer.provide(AuditLog.layerFor("executor")),
    Layer.provide(ExecutorConfig.layerConfig(executorOptions)),
    Layer.provide(RegistryClient.layer),
    Layer.provide(secretsLayerConfig)
  )
}

/** Stage definitions grouped by runtime: a pool serves one runtime. */
export const byRuntime = (definitions: ReadonlyArray<StageDefinition>): ReadonlyMap<string, ReadonlyArray<StageDefinition>> => {
  const groups = new Map<string, Array<StageDefinition>>()
  for (const definition of definitions) {
    const group = groups.get(definition.metadata.runtime)
    if (group === undefined) groups.set(definition.metadata.runtime, [definition])
    else group.push(definition)
  }
  return groups
}

/**
 * Everything in one process over the in-memory bus, built in order: the
 * registry first, so the executors' registrations are answered before the
 * scheduler takes runs. One executor per runtime: pool `default` for inline
 * stages, a pool named after the runtime for the others (`process`).
 */
export const embeddedLayer = (
  definitions: ReadonlyArray<StageDefinition>
): Layer.Layer<SwitchyardClient | RegistryClient | Scheduler | Bus | BlobStore, BusError | KvConflictError | Config.ConfigError> => {
  const executors = [...byRuntime(definitions)].map(([runtime, group]) =>
    Layer.fresh(executorLayer(group, { pool: runtime === "inline" ? embeddedPool : runtime }))
  )
  return Layer.mergeAll(SwitchyardClient.layer, RegistryClient.layer).pipe(
    Layer.provideMerge(schedulerLayer),
    Layer.provideMerge(
      executors.length === 0 ? Layer.empty : Layer.mergeAll(...(executors as [(typeof executors)[0], ...typeof executors]))
    ),
    Layer.provideMerge(registryLayer),
    Layer.provideMerge(Layer.merge(MemoryBus.layer, MemoryBlobStore.layer))
  )
}

/** A client of a deployment at `url`, or of an embedded one when there is none. */
export const clientLayer = (
  url: string | undefined,
  definitions: ReadonlyArray<StageDefinition>
): Layer.Layer<SwitchyardClient | RegistryClient | Bus | BlobStore, BusError | KvConflictError | Config.ConfigError> =>
  url === undefined
    ? embeddedLayer(definitions)
    : Layer.mergeAll(SwitchyardClient.layer, RegistryClient.layer).pipe(Layer.provideMerge(busLayer(url)))
