/**
 * The Switchyard SDK (`@switchyard/sdk`): `defineStage` and `defineAction`
 * with their types for plugin authors, `runAction` to test an action, and the
 * client (`SwitchyardClient` for Effect code, `connect` for plain Node
 * services) for services that submit runs, run standalone tasks and update
 * ledgers.
 */
export * from "./defineStage.ts"
export * from "./client.ts"
export * from "./defineAction.ts"
export * from "./testing.ts"
