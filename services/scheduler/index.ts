/** The scheduler service: validates pipelines, owns runs, applies results; and the collector of finished runs and unnamed blobs. */
export * from "@switchyard/schemas/PipelineError"
export * from "./PipelineLoader.ts"
export * from "./RunGc.ts"
export * from "./RunStore.ts"
export * from "./Scheduler.ts"
export * from "./SchedulerConfig.ts"
export * from "./StageLookup.ts"
