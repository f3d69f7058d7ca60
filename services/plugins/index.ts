/** The plugin system: manifests and their loader. */
export * from "./ManifestError.ts"
export * from "./ManifestLoader.ts"
export * from "./ProcessStage.ts"
export * from "./Discovery.ts"
export * from "./PluginsConfig.ts"
