/**
 * The Switchyard SDK (`switchyard/sdk`): `defineStage` and its types for
 * plugin authors, and the client (`SwitchyardClient` for Effect code,
 * `connect` for plain Node services) for services that submit runs, run
 * standalone tasks and update ledgers.
 */
export * from "./defineStage.ts"
export * from "./client.ts"
export * from "./defineAction.ts"
export * from "./testing.ts"
