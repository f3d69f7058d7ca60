import { defineConfig } from "vitest/config"

// `npm test`: unit and integration tests (a real nats-server, real child processes). The end-to-end
// suites, which start the services as separate processes per test, run with `npm run test:e2e`
// (vitest.e2e.config.ts).
export const e2eInclude = ["test/e2e/**/*.e2e.test.ts"]

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    exclude: ["**/node_modules/**", ...e2eInclude],
    globalSetup: ["test/setup/natsServer.ts"],
    testTimeout: 30_000,
    hookTimeout: 30_000,
    teardownTimeout: 15_000
  }
})
