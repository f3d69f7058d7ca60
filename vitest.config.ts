import { defaultServerConditions } from "vite"
import { defineConfig } from "vitest/config"

// The @switchyard/* workspaces resolve to their TypeScript sources, in the
// tests and in every process a test starts (`node` inherits NODE_OPTIONS).
const sourceCondition = "@switchyard/source"

export default defineConfig({
  resolve: { conditions: [sourceCondition, ...defaultServerConditions] },
  ssr: { resolve: { conditions: [sourceCondition, ...defaultServerConditions] } },
  test: {
    include: ["test/**/*.test.ts"],
    globalSetup: ["test/setup/natsServer.ts"],
    env: { NODE_OPTIONS: [process.env.NODE_OPTIONS, `--conditions=${sourceCondition}`].filter(Boolean).join(" ") },
    testTimeout: 30_000,
    hookTimeout: 30_000,
    teardownTimeout: 15_000
  }
})
