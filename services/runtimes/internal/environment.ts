/**
 * The environment a plugin process starts with: PATH, the variable names its
 * manifest declares (values from the parent's environment), where the
 * parent exports traces (the OTLP endpoint and protocol variables, so the
 * process's own spans join the task's trace; never the exporter's headers,
 * which may hold credentials) and, for a one-shot process, the task's
 * TRACEPARENT. Nothing else of the parent's environment is passed on.
 */

/** The trace export settings a plugin process shares with its executor. */
const traceExportVariables = [
  "OTEL_EXPORTER_OTLP_ENDPOINT",
  "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
  "OTEL_EXPORTER_OTLP_PROTOCOL",
  "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL",
  "OTEL_SDK_DISABLED"
] as const

/** What `pluginEnvironment` takes. */
export interface PluginEnvironmentOptions {
  /** Variable names the manifest declares. */
  readonly names: ReadonlyArray<string>
  /** Where values are read from. */
  readonly parentEnv: Readonly<Record<string, string | undefined>>
  /** W3C trace context passed as TRACEPARENT. */
  readonly traceparent?: string | undefined
}

/** The environment of a plugin process. */
export const pluginEnvironment = (options: PluginEnvironmentOptions): Record<string, string> => {
  const env: Record<string, string> = {}
  if (options.parentEnv.PATH !== undefined) env.PATH = options.parentEnv.PATH
  for (const name of traceExportVariables) {
    const value = options.parentEnv[name]
    if (value !== undefined) env[name] = value
  }
  if (env.OTEL_EXPORTER_OTLP_ENDPOINT !== undefined || env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT !== undefined) {
    env.OTEL_SERVICE_NAME = "switchyard-plugin"
  }
  for (const name of options.names) {
    const value = options.parentEnv[name]
    if (value !== undefined) env[name] = value
  }
  if (options.traceparent !== undefined) env.TRACEPARENT = options.traceparent
  return env
}
