/**
 * Runtimes that run plugin actions outside the executor's own process: the
 * process runtime (`runInProcess`).
 */
export * from "./ProcessRuntime.ts"
