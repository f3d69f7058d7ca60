/**
 * The stage types one executor serves: their definitions by type name. Built
 * from a list of `StageDefinition`s (a plugin's `stages`); a type defined
 * twice keeps its last definition, so a later plugin can shadow a built-in.
 */
import { Context, Layer, Option } from "effect"
import type { StageDefinition } from "../../sdk/Stage.ts"

/** The stage definitions served by this executor. */
export class StageCatalog extends Context.Service<
  StageCatalog,
  {
    /** Every definition, in the order given (duplicates removed). */
    readonly definitions: ReadonlyArray<StageDefinition>
    /** The definition of a stage type. */
    readonly get: (type: string) => Option.Option<StageDefinition>
  }
>()("switchyard/executor/StageCatalog") {
  /** A catalog of these definitions. */
  static readonly layer = (definitions: Iterable<StageDefinition>): Layer.Layer<StageCatalog> =>
    Layer.sync(StageCatalog, () => StageCatalog.make(definitions))

  /** Builds a catalog value (without a layer). */
  static make(definitions: Iterable<StageDefinition>): StageCatalog["Service"] {
    const byType = new Map<string, StageDefinition>()
    for (const definition of definitions) {
      byType.delete(definition.metadata.type)
      byType.set(definition.metadata.type, definition)
    }
    const all = Array.from(byType.values())
    return StageCatalog.of({
      definitions: all,
      get: (type) => Option.fromNullishOr(byType.get(type))
    })
  }
}
