import { defaultServerConditions } from "vite"
import { defineConfig } from "vitest/config"

// `npm test`: unit and integration tests (a real nats-server, real child processes). The end-to-end
// suites, which start the services as separate processes per test, run with `npm run test:e2e`
// (vitest.e2e.config.ts).
export const e2eInclude = ["test/e2e/**/*.e2e.test.ts"]
// The fault suite (`npm run test:faults`, vitest.faults.config.ts) runs after both.
export const faultsInclude = ["test/faults/**/*.faults.test.ts"]

// The @switchyard/* workspaces resolve to their TypeScript sources, in the tests and in every
// process a test starts (`node` inherits NODE_OPTIONS).
const sourceCondition = "@switchyard/source"

/** What both configurations share: package resolution, the nats-server setup, the environment of child processes. */
export const shared = {
  resolve: { conditions: [sourceCondition, ...defaultServerConditions] },
  ssr: { resolve: { conditions: [sourceCondition, ...defaultServerConditions] } },
  test: {
    globalSetup: ["test/setup/natsServer.ts"],
    env: { NODE_OPTIONS: [process.env.NODE_OPTIONS, `--conditions=${sourceCondition}`].filter(Boolean).join(" ") }
  }
}

export default defineConfig({
  ...shared,
  test: {
    ...shared.test,
    include: ["test/**/*.test.ts"],
    exclude: ["**/node_modules/**", ...e2eInclude, ...faultsInclude],
    testTimeout: 30_000,
    hookTimeout: 30_000,
    teardownTimeout: 15_000
  }
})
