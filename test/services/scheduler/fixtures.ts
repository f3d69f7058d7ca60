/** Stage metadata and registry replies for scheduler unit tests. */
import { Effect } from "effect"
import { RegisteredStage, StageResolveReply } from "../../../schemas/Registry.ts"
import { StageMetadata } from "../../../schemas/StageMetadata.ts"

/** A registered stage type served by pool `test`. */
export const stage = (fields: Partial<typeof StageMetadata.Encoded> & { readonly type: string }): RegisteredStage =>
  new RegisteredStage({
    metadata: new StageMetadata({
      version: "1.0.0",
      description: fields.type,
      plugin: "test",
      stateKey: null,
      output: "none",
      count: "none",
      dependencies: [],
      runtime: "inline",
      timeoutMs: 30_000,
      ...fields
    } as StageMetadata),
    pool: "test",
    online: true,
    registeredAt: 0
  })

/** Answers `stage.resolve` from a fixed list, suggesting names that share a prefix. */
/** A `core/` stage type's short name, as the registry answers to it. */
const shortName = (type: string): string | undefined => (type.startsWith("core/") ? type.slice(type.indexOf(".") + 1) : undefined)

export const resolverOf = (stages: ReadonlyArray<RegisteredStage>) => (types: ReadonlyArray<string>) =>
  Effect.succeed(
    new StageResolveReply({
      version: 1,
      found: stages.filter((s) => types.includes(s.metadata.type) || types.includes(shortName(s.metadata.type) ?? "")),
      missing: types
        .filter((type) => !stages.some((s) => s.metadata.type === type || shortName(s.metadata.type) === type))
        .map((type) => ({
          type,
          suggestions: stages.map((s) => s.metadata.type).filter((known) => known.slice(0, 3) === type.slice(0, 3))
        }))
    })
  )
