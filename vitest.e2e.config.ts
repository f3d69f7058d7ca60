import { defineConfig } from "vitest/config"
import { e2eInclude, shared } from "./vitest.config.ts"

// `npm run test:e2e`: the end-to-end suites, each starting registry, scheduler and executors as
// separate processes. Their readiness waits allow 90 seconds on a loaded machine, so a test may
// take longer than the unit suites' 30 seconds.
export default defineConfig({
  ...shared,
  test: {
    ...shared.test,
    include: e2eInclude,
    testTimeout: 240_000,
    hookTimeout: 120_000,
    teardownTimeout: 30_000
  }
})
