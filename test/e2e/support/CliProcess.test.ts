/**
 * The readiness waits of the end-to-end support: a wait for a log line gives
 * up at its deadline with an error that says what the process printed, so a
 * service that never became ready shows why.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { fileURLToPath } from "node:url"
import { EventuallyTimeoutError } from "../../support/eventually.ts"
import { readyTimeout, spawnCli } from "./CliProcess.ts"

const slowStarter = fileURLToPath(new URL("../fixtures/slowStarter.js", import.meta.url))

describe("waiting for a process to log a line", () => {
  it.live("returns the line once the process logs it", () =>
    Effect.gen(function* () {
      const process = yield* spawnCli({ label: "slow-starter", args: [], script: slowStarter })
      const line = yield* process.logged("loading its configuration")
      assert.strictEqual(line, "slow-starter: loading its configuration")
    })
  )

  it.live("gives up at the deadline naming the process, the line it waited for and what the process printed", () =>
    Effect.gen(function* () {
      const process = yield* spawnCli({ label: "slow-starter", args: [], script: slowStarter })
      const error = yield* Effect.flip(process.logged("registry ready", { timeout: "1 second", interval: "100 millis" }))
      assert.instanceOf(error, EventuallyTimeoutError)
      assert.strictEqual(error.label, "slow-starter logs registry ready")
      assert.include(error.lastSeen, "process running")
      assert.include(error.lastSeen, "slow-starter: loading its configuration")
    })
  )

  it("allows services 90 seconds to become ready", () => {
    assert.strictEqual(readyTimeout.timeout, "90 seconds")
  })
})
