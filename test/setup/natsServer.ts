/**
 * Vitest global setup: one nats-server with JetStream for every integration
 * test, on an OS-assigned port with its own store directory, passed to tests
 * as `inject("natsUrl")`. It is stopped and its directory removed when the
 * run ends. Tests isolate themselves with unique names on this shared server.
 */
import type { TestProject } from "vitest/node"
import { startNatsServer } from "../support/NatsServer.ts"

declare module "vitest" {
  export interface ProvidedContext {
    /** URL of the shared test nats-server. */
    natsUrl: string
  }
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const server = await startNatsServer()
  project.provide("natsUrl", server.url)
  return () => server.dispose()
}
