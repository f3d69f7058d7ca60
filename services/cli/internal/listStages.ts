/**
 * What `switchyard stages` does: ask the registry for every stage type and
 * print them as a table or JSON. Against a deployment at `--nats` it needs
 * only the bus and the registry client; without one it loads the stages to
 * serve and starts the embedded services to ask, each module imported
 * only on that path.
 */
import { Console, Effect, Layer } from "effect"
import type { Config } from "effect"
import type { BusError, KvConflictError } from "@switchyard/bus/BusError"
import { RegistryClient } from "../../registry/RegistryClient.ts"
import { busLayer } from "./busLayer.ts"

/** The command line of `stages`. */
export interface ListStagesOptions {
  readonly url: string | undefined
  readonly modules: ReadonlyArray<string>
  readonly json: boolean
}

// Embedded, the registry knows what this process serves: the built-ins, the project's plugins and the modules.
const embeddedRegistry = (modules: ReadonlyArray<string>) =>
  Effect.gen(function* () {
    const { loadStages } = yield* Effect.promise(() => import("./loadStages.ts"))
    const definitions = yield* loadStages(modules)
    const { embeddedLayer } = yield* Effect.promise(() => import("../Stack.ts"))
    return embeddedLayer(definitions)
  })

/** Prints the stage types the registry knows. */
export const listStages = Effect.fnUntraced(function* (options: ListStagesOptions) {
  const layer: Layer.Layer<RegistryClient, BusError | KvConflictError | Config.ConfigError> =
    options.url === undefined ? yield* embeddedRegistry(options.modules) : RegistryClient.layer.pipe(Layer.provide(busLayer(options.url)))
  const reply = yield* Effect.gen(function* () {
    const registry = yield* RegistryClient
    return yield* registry.list()
  }).pipe(Effect.scoped, Effect.provide(layer))
  if (options.json) return yield* Console.log(JSON.stringify(reply.stages, null, 2))
  const rows = reply.stages.map((s) => [
    s.metadata.type,
    s.metadata.version,
    s.pool,
    s.online ? "online" : "offline",
    s.metadata.description
  ])
  const widths = [0, 1, 2, 3].map((i) => Math.max(...rows.map((row) => row[i]!.length), ["TYPE", "VERSION", "POOL", "STATE"][i]!.length))
  const line = (cells: ReadonlyArray<string>) => cells.map((cell, i) => (i < 4 ? cell.padEnd(widths[i]!) : cell)).join("  ")
  yield* Console.log([line(["TYPE", "VERSION", "POOL", "STATE", "DESCRIPTION"]), ...rows.map(line)].join("\n"))
})
