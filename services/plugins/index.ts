/** The plugin system: manifests, their loader, discovery and the lifecycle of discovered plugins in an executor. */
export * from "./ManifestError.ts"
export * from "./ManifestLoader.ts"
export * from "./ProcessStage.ts"
export * from "./Discovery.ts"
export * from "./PluginsConfig.ts"
export * from "./PluginManager.ts"
