/**
 * The Switchyard deployments the benchmark drives, composed from the real
 * service layers with explicit settings (so `SWITCHYARD_*` variables in the
 * environment cannot skew a run): the durable one, where the registry, the
 * executor, the scheduler and the client each hold their own NATS
 * connection as separate processes would, and the embedded one, where all
 * four share one in-memory bus. Both are built registry first, so the
 * executor's registration is answered before the scheduler takes runs, and
 * both log warnings only. The durable one can also be built as the CLI
 * builds its services: each under its telemetry (`serviceLayer`), the
 * client under the tracing `switchyard run` provides.
 */
import { Layer, Option, References } from "effect"
import * as MemoryBus from "../../services/bus/MemoryBus.ts"
import * as MemoryBlobStore from "../../services/bus/MemoryBlobStore.ts"
import * as NatsBlobStore from "../../services/bus/NatsBlobStore.ts"
import * as NatsBus from "../../services/bus/NatsBus.ts"
import { makeNames, Subjects } from "../../schemas/Subjects.ts"
import { Executor, ExecutorConfig, StageCatalog } from "../../services/executor/index.ts"
import { Registry, RegistryClient } from "../../services/registry/index.ts"
import { RunStore, Scheduler, SchedulerConfig } from "../../services/scheduler/index.ts"
import { SwitchyardClient } from "../../sdk/client.ts"
import { serviceLayer } from "../../services/cli/Stack.ts"
import { Tracing } from "../../services/telemetry/index.ts"
import { stages as helloStages } from "../../plugins/hello/index.ts"

/** The pool the benchmark's executor serves. */
export const benchPool = "bench"

/** Task slots of the executor and results applied at once by the scheduler. */
export interface DeploymentOptions {
  readonly prefix: string
  readonly slots: number
  readonly resultConcurrency: number
}

const quiet = Layer.succeed(References.MinimumLogLevel, "Warn")

const registry = Registry.layer

const executor = (options: DeploymentOptions) =>
  Executor.layer.pipe(
    Layer.provide(ExecutorConfig.layer({ pool: benchPool, slots: options.slots, executorId: `${options.prefix}-executor` })),
    Layer.provide(StageCatalog.layer(helloStages)),
    Layer.provide(RegistryClient.layer)
  )

const scheduler = (options: DeploymentOptions) =>
  Scheduler.layer.pipe(
    Layer.provide(RunStore.layer),
    Layer.provide(RegistryClient.layer),
    Layer.provide(SchedulerConfig.layer({ resultConcurrency: options.resultConcurrency }))
  )

/** The HTTP port (`/healthz`, `/readyz`, `/metrics`) of each service built under its telemetry. */
export interface ServicePorts {
  readonly registry: number
  readonly scheduler: number
  readonly executor: number
}

/**
 * Registry, executor, scheduler and client on one NATS server, one connection
 * each. With `telemetry`, each service (its connection included) is built
 * under `Telemetry.layer` with its HTTP port, and the client under
 * `Tracing.layer("cli")`, as the CLI does; what they export is then up to the
 * OpenTelemetry variables of the process.
 */
export const durable = (url: string, options: DeploymentOptions, telemetry?: { readonly httpPorts: ServicePorts }) => {
  const nats = (role: string) => NatsBlobStore.layer().pipe(Layer.provideMerge(NatsBus.layer({ url, name: `${options.prefix}-${role}` })))
  const observed = <A, E>(service: keyof ServicePorts, layer: Layer.Layer<A, E>) =>
    telemetry === undefined ? layer : serviceLayer(layer, { service, httpPort: Option.some(telemetry.httpPorts[service]) })
  const client = SwitchyardClient.layer.pipe(Layer.provideMerge(nats("client")))
  return (telemetry === undefined ? client : client.pipe(Layer.provideMerge(Tracing.layer("cli")))).pipe(
    Layer.provideMerge(observed("scheduler", scheduler(options).pipe(Layer.provide(nats("scheduler"))))),
    Layer.provideMerge(observed("executor", executor(options).pipe(Layer.provide(nats("executor"))))),
    Layer.provideMerge(observed("registry", registry.pipe(Layer.provide(nats("registry"))))),
    Layer.provideMerge(Layer.succeed(Subjects, makeNames(options.prefix))),
    Layer.provideMerge(quiet)
  )
}

/** Registry, executor, scheduler and client in this process over one in-memory bus. */
export const embedded = (options: DeploymentOptions) =>
  SwitchyardClient.layer.pipe(
    Layer.provideMerge(scheduler(options)),
    Layer.provideMerge(executor(options)),
    Layer.provideMerge(registry),
    Layer.provideMerge(MemoryBus.layer),
    Layer.provideMerge(MemoryBlobStore.layer),
    Layer.provideMerge(Layer.succeed(Subjects, makeNames(options.prefix))),
    Layer.provideMerge(quiet)
  )

/** Registry and executor only, over one in-memory bus: for feeding the executor tasks directly. */
export const embeddedExecutor = (options: DeploymentOptions) =>
  executor(options).pipe(
    Layer.provideMerge(registry),
    Layer.provideMerge(MemoryBus.layer),
    Layer.provideMerge(MemoryBlobStore.layer),
    Layer.provideMerge(Layer.succeed(Subjects, makeNames(options.prefix))),
    Layer.provideMerge(quiet)
  )

/** The in-memory bus alone. */
export const memoryBus = (options: DeploymentOptions) =>
  MemoryBus.layer.pipe(Layer.provideMerge(Layer.succeed(Subjects, makeNames(options.prefix))), Layer.provideMerge(quiet))
