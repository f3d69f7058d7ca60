/** Telemetry: W3C trace context carried in bus headers. */
export * from "./TraceContext.ts"
