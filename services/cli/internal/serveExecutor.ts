/**
 * What `switchyard executor` does: load the stages of its runtime and run
 * one replica of the pool against NATS until stopped; a `process` replica
 * also serves the plugins discovered for the project. Loaded only when the
 * command runs.
 */
import { Effect, Layer, Option } from "effect"
import { busLayer, executorLayer, pluginExecutorLayer, serviceLayer } from "../Stack.ts"
import { loadStages } from "./loadStages.ts"

/** The command line of `executor`. */
export interface ExecutorCommandOptions {
  readonly nats: string
  readonly pool: string
  readonly runtime: "inline" | "process"
  readonly builtins: boolean
  readonly slots: Option.Option<number>
  readonly modules: ReadonlyArray<string>
  readonly httpPort: Option.Option<number>
}

/** Serves the pool until interrupted. */
export const serveExecutor = Effect.fnUntraced(function* ({
  builtins,
  httpPort,
  modules,
  nats,
  pool,
  runtime,
  slots
}: ExecutorCommandOptions) {
  const definitions = (yield* loadStages(modules, { builtins, plugins: false })).filter(
    (definition) => definition.metadata.runtime === runtime
  )
  const options = { pool, ...Option.match(slots, { onNone: () => ({}), onSome: (n) => ({ slots: n }) }) }
  const replica = (
    runtime === "process"
      ? pluginExecutorLayer(definitions, { ...options, runtime, projectDir: process.cwd() })
      : executorLayer(definitions, options)
  ).pipe(Layer.provide(busLayer(nats)))
  return yield* Layer.launch(serviceLayer(replica, { service: `executor-${runtime}`, httpPort }))
})
