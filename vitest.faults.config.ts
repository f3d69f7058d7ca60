import { defineConfig } from "vitest/config"
import { faultsInclude, shared } from "./vitest.config.ts"

// `npm run test:faults`: the fault suite. Each scenario starts the services as separate processes on
// a nats-server of its own, injects a fault (a crashing task, a killed process, an outage, hostile
// input) and checks every run reaches its expected end with each result applied once. One file at a
// time: the scenarios kill and pause processes and must not slow each other down.
export default defineConfig({
  ...shared,
  test: {
    ...shared.test,
    include: faultsInclude,
    fileParallelism: false,
    testTimeout: 300_000,
    hookTimeout: 120_000,
    teardownTimeout: 30_000
  }
})
