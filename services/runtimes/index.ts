/**
 * Runtimes that run plugin actions outside the executor's own process: the
 * process runtime (`runInProcess`, a fresh process per task), its warm pool
 * (`makeProcessPool`, long-lived processes for many tasks) and the protocol
 * between the pool and its workers.
 */
export * from "./ProcessRuntime.ts"
export * from "./ProcessPool.ts"
export * from "@switchyard/schemas/WorkerProtocol"
