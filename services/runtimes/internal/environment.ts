/**
 * The environment a plugin process starts with: PATH, the variable names its
 * manifest declares (values from the parent's environment) and, for a
 * one-shot process, the task's TRACEPARENT. Nothing else of the parent's
 * environment is passed on.
 */

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
  for (const name of options.names) {
    const value = options.parentEnv[name]
    if (value !== undefined) env[name] = value
  }
  if (options.traceparent !== undefined) env.TRACEPARENT = options.traceparent
  return env
}
