/**
 * The stage types one executor serves: their definitions by type name. Built
 * from a list of `StageDefinition`s (a plugin's `stages`); a type defined
 * twice keeps its last definition, so a later plugin can shadow a built-in.
 * Definitions can be added and removed while the executor runs (a plugin
 * folder appeared or disappeared); every change is offered to the
 * subscribers of `changes`, which is how the executor learns to register or
 * deregister them.
 */
import { Context, Effect, Layer, Option, Queue } from "effect"
import type { Scope } from "effect"
import type { StageDefinition } from "@switchyard/schemas/Stage"

/** One change to the catalog. */
export type CatalogChange =
  | { readonly _tag: "Added"; readonly definitions: ReadonlyArray<StageDefinition> }
  | {
      readonly _tag: "Removed"
      /** The definitions taken out, as they were served. */
      readonly definitions: ReadonlyArray<StageDefinition>
    }

/** The stage definitions served by this executor. */
export class StageCatalog extends Context.Service<
  StageCatalog,
  {
    /** Every definition now, in the order given (duplicates removed). */
    readonly definitions: () => ReadonlyArray<StageDefinition>
    /** The definition of a stage type. */
    readonly get: (type: string) => Option.Option<StageDefinition>
    /** Serves these definitions too (replacing any of the same type). */
    readonly add: (definitions: Iterable<StageDefinition>) => Effect.Effect<void>
    /** Stops serving these stage types; returns the definitions it took out. */
    readonly remove: (types: Iterable<string>) => Effect.Effect<ReadonlyArray<StageDefinition>>
    /** Every change made from now on, for as long as the scope lives. */
    readonly changes: Effect.Effect<Queue.Dequeue<CatalogChange>, never, Scope.Scope>
  }
>()("switchyard/executor/StageCatalog") {
  /** A catalog of these definitions. */
  static readonly layer = (definitions: Iterable<StageDefinition>): Layer.Layer<StageCatalog> =>
    Layer.sync(StageCatalog, () => StageCatalog.make(definitions))

  /** Builds a catalog value (without a layer). */
  static make(definitions: Iterable<StageDefinition>): StageCatalog["Service"] {
    const byType = new Map<string, StageDefinition>()
    const put = (definition: StageDefinition) => {
      byType.delete(definition.metadata.type)
      byType.set(definition.metadata.type, definition)
    }
    for (const definition of definitions) put(definition)
    // Rebuilt only after a change: the per-task path reads `get`, registration and heartbeats read this.
    let all: ReadonlyArray<StageDefinition> | undefined
    const subscribers = new Set<Queue.Queue<CatalogChange>>()
    const announce = (change: CatalogChange) => {
      all = undefined
      for (const queue of subscribers) Queue.offerUnsafe(queue, change)
    }
    return StageCatalog.of({
      definitions: () => (all ??= Array.from(byType.values())),
      get: (type) => Option.fromNullishOr(byType.get(type)),
      add: (added) =>
        Effect.sync(() => {
          const list = Array.from(added)
          if (list.length === 0) return
          for (const definition of list) put(definition)
          announce({ _tag: "Added", definitions: list })
        }),
      remove: (types) =>
        Effect.sync(() => {
          const removed: Array<StageDefinition> = []
          for (const type of types) {
            const definition = byType.get(type)
            if (definition === undefined) continue
            byType.delete(type)
            removed.push(definition)
          }
          if (removed.length > 0) announce({ _tag: "Removed", definitions: removed })
          return removed
        }),
      changes: Effect.acquireRelease(
        Effect.gen(function* () {
          const queue = yield* Queue.unbounded<CatalogChange>()
          subscribers.add(queue)
          return queue
        }),
        (queue) => Effect.sync(() => void subscribers.delete(queue)).pipe(Effect.andThen(Queue.shutdown(queue)))
      )
    })
  }
}
