/**
 * Telemetry of the services: traces and metrics through OpenTelemetry as
 * the standard variables configure them (`Tracing`, `MetricsExport`,
 * `TelemetryConfig`), the HTTP port with `/healthz`, `/readyz` and
 * `/metrics` (`HealthServer`), all of it as one layer (`Telemetry`), and
 * the log lines every command writes (`Logs`).
 */
export * as HealthServer from "./HealthServer.ts"
export * as MetricsExport from "./MetricsExport.ts"
export * as Telemetry from "./Telemetry.ts"
export * as TelemetryConfig from "./TelemetryConfig.ts"
export * as Tracing from "./Tracing.ts"
