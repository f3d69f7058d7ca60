/**
 * What `switchyard run --nats URL` checks before it submits: that a registry
 * answers and that some executor serves every stage type of the pipeline. A
 * deployment missing a service gets one line per missing piece naming the
 * command that starts it, instead of one scheduler issue per stage. A type
 * the registry knows something close to (a likely typo) is left to the
 * scheduler, whose issue points at the line and suggests the known name.
 */
import { Effect } from "effect"
import type { RegistryClient } from "../../registry/RegistryClient.ts"

/** Lines naming the services to start; empty when the registry serves every type (or knows a close one). */
export const missingServices = (options: {
  readonly registry: RegistryClient["Service"]
  readonly url: string
  /** The subject the registry answers on, for the message. */
  readonly resolveSubject: string
  readonly types: ReadonlyArray<string>
}): Effect.Effect<ReadonlyArray<string>> =>
  options.registry.resolve([...new Set(options.types)]).pipe(
    Effect.map((reply) =>
      reply.missing
        .filter((entry) => entry.suggestions.length === 0)
        .map(
          (entry) =>
            `no executor serves stage type "${entry.type}": start one with \`switchyard executor --pool NAME --nats ${options.url}\` (with \`--module FILE\` when a module of yours defines it)`
        )
    ),
    Effect.catchTags({
      NoRespondersError: () => Effect.succeed([registryMissing(options)]),
      RequestTimeoutError: () => Effect.succeed([registryMissing(options)])
    }),
    // Anything else (a malformed reply, a bus failure) is for the submit to report.
    Effect.orElseSucceed(() => [])
  )

const registryMissing = (options: { readonly url: string; readonly resolveSubject: string }) =>
  `no registry answers on ${options.resolveSubject}: start one with \`switchyard registry --nats ${options.url}\` (and \`switchyard scheduler --nats ${options.url}\` if none runs)`

/** The line for a `run.submit` nobody answered. */
export const schedulerMissing = (options: { readonly url: string; readonly submitSubject: string }) =>
  `no scheduler answers on ${options.submitSubject}: start one with \`switchyard scheduler --nats ${options.url}\``
