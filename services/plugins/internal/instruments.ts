/**
 * What the plugin host measures, as an Effect metric (exported through
 * OpenTelemetry by the telemetry layer, and on `/metrics`): how long a
 * discovery of the project's plugins takes. `docs/reference/metrics.md`
 * lists it.
 */
import { Metric } from "effect"

/** Seconds, from 1 ms to about 40 s. */
const discoveryDuration = Metric.histogram("switchyard.plugin.discovery.duration", {
  description: "Time to discover the project's plugins (read and check every manifest), in seconds",
  boundaries: Metric.exponentialBoundaries({ start: 0.001, factor: 2.5, count: 12 })
})

/** Records one discovery that took `millis`. */
export const recordDiscovery = (millis: number) => Metric.update(discoveryDuration, millis / 1000)
