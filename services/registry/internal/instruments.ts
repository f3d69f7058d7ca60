/**
 * What the registry measures, as Effect metrics (exported through
 * OpenTelemetry by the telemetry layer, and on `/metrics`): stage types it
 * accepted and refused, by pool. `docs/reference/metrics.md` lists them.
 */
import { Effect, Metric } from "effect"
import type { RegistrationReply } from "@switchyard/schemas/Registry"

const registrations = Metric.counter("switchyard.registrations", {
  description: "Stage types announced to the registry, by pool and outcome (accepted or refused)",
  incremental: true
})

/** Records the registry's decision on each stage type of a registration. */
export const recordRegistration = (pool: string, reply: RegistrationReply): Effect.Effect<void> =>
  Effect.forEach(
    reply.decisions,
    (decision) =>
      Metric.update(
        Metric.withAttributes(registrations, {
          "switchyard.pool": pool,
          "switchyard.registration.outcome": decision.accepted ? "accepted" : "refused"
        }),
        1
      ),
    { discard: true }
  )
