/**
 * A nats-server of a test file's own: started before its tests, stopped
 * after them. Returns the getter of its URL, valid inside the tests.
 */
import { afterAll, beforeAll } from "vitest"
import { type NatsServerHandle, startNatsServer } from "../../support/NatsServer.ts"

export const ownNatsServer = (): (() => string) => {
  let server: NatsServerHandle | undefined
  beforeAll(async () => {
    server = await startNatsServer()
  })
  afterAll(async () => {
    await server?.dispose()
  })
  return () => server!.url
}
