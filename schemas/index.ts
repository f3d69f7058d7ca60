/** Every message, manifest and pipeline schema of Switchyard's wire protocol. */
export * from "./StageMetadata.ts"
export * from "./Registry.ts"
export * from "./Task.ts"
export * from "./Run.ts"
export * from "./Pipeline.ts"
export * from "./RunRecord.ts"
export * from "./YamlDocument.ts"
export * from "./PluginManifest.ts"
