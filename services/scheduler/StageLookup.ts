/**
 * Stage-type lookups for pipeline validation: asks the registry
 * (`stage.resolve`) and remembers what it found for a short while, so a
 * service submitting the same pipeline many times does not cost a registry
 * round trip per run. Unknown types are never remembered: a stage type
 * registered a moment ago is found at once.
 */
import { Clock, Duration, Effect } from "effect"
import type { RegistryClient } from "../registry/RegistryClient.ts"
import { StageResolveReply } from "@switchyard/schemas/Registry"
import type { RegisteredStage } from "@switchyard/schemas/Registry"

/** Resolves stage types with a time-bounded cache of found ones. */
export const makeStageLookup = (registry: RegistryClient["Service"], ttl: Duration.Duration) => {
  const ttlMs = Duration.toMillis(ttl)
  const found = new Map<string, { readonly stage: RegisteredStage; readonly until: number }>()
  return (types: ReadonlyArray<string>) =>
    Effect.gen(function* () {
      const now = yield* Clock.currentTimeMillis
      const cached: Array<RegisteredStage> = []
      for (const type of types) {
        const entry = found.get(type)
        if (entry === undefined || entry.until < now) break
        cached.push(entry.stage)
      }
      if (cached.length === types.length) return new StageResolveReply({ version: 1, found: cached, missing: [] })
      const reply = yield* registry.resolve(types)
      for (const stage of reply.found) found.set(stage.metadata.type, { stage, until: now + ttlMs })
      return reply
    })
}
