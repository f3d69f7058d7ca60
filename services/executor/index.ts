/** The executor service: runs a pool's stage types from its task queue. */
export * from "./Executor.ts"
export * from "./ExecutorConfig.ts"
export * from "./ExecutorError.ts"
export * from "./StageCatalog.ts"
export * from "./SecretSource.ts"
