/**
 * The registry service's public face: the service and its layer, the client
 * other services use to reach it over the bus, its settings, its audit log,
 * the error it replies with when its storage fails and the stage validation the CLI can run ahead of time.
 */
export { AuditEntry, AuditEntryType, AuditEvent, AuditLog, AuditPrevious, type AuditRecord } from "./AuditLog.ts"
export { Registry } from "./Registry.ts"
export { RegistryClient, type RegistryClientError, type RegistryClientOptions } from "./RegistryClient.ts"
export { RegistryConfig, registryConfigDefaults, type RegistryConfigShape } from "./RegistryConfig.ts"
export { ServiceUnavailableError } from "@switchyard/schemas/Endpoint"
/** Short names of core stage types, shared by discovery and the registry. */
export { coreAliases, coreShortName } from "./CoreAliases.ts"
export { checkRegistration, type KnownStages, type StageCheck, validateStage } from "./StageValidation.ts"
/** Closest known names to a misspelt one ("did you mean"), shared by every validator. */
export { editDistance, suggest } from "./internal/suggest.ts"
