/**
 * Two deployments on one nats-server: services started with
 * `SWITCHYARD_PREFIX` use their own subjects, streams and buckets, so only
 * commands with the same prefix reach them.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect, Schema } from "effect"
import { readyTimeout, runCli, spawnCli } from "./support/CliProcess.ts"
import { ownNatsServer } from "./support/ownNatsServer.ts"
import { runPipeline } from "./support/Stack.ts"

const natsUrl = ownNatsServer()

const StageTypes = Schema.fromJsonString(Schema.Array(Schema.Struct({ metadata: Schema.Struct({ type: Schema.String }) })))

describe("SWITCHYARD_PREFIX", () => {
  it.live(
    "keeps a prefixed deployment to itself on a shared server",
    () =>
      Effect.gen(function* () {
        const nats = ["--nats", natsUrl()]
        const tenant = { SWITCHYARD_PREFIX: "tenant-a" }
        yield* spawnCli({ label: "registry tenant-a", args: ["registry", ...nats], env: tenant })
        yield* spawnCli({ label: "scheduler tenant-a", args: ["scheduler", ...nats], env: tenant })
        const executor = yield* spawnCli({ label: "executor tenant-a", args: ["executor", ...nats, "--pool", "hello"], env: tenant })
        yield* executor.logged("registered", readyTimeout)

        const listed = yield* runCli({ label: "stages tenant-a", args: ["stages", ...nats, "--json"], env: tenant })
        assert.strictEqual(listed.code, 0, listed.stderr)
        assert.include(
          Schema.decodeUnknownSync(StageTypes)(listed.stdout).map((stage) => stage.metadata.type),
          "hello.greet"
        )
        const run = yield* runPipeline("examples/pipelines/hello.yaml", [...nats, "--input", "name=Ada"], { env: tenant })
        assert.strictEqual(run.finished?.status, "succeeded", run.stderr)

        const elsewhere = yield* runCli({ label: "stages unprefixed", args: ["stages", ...nats, "--json"] })
        assert.notStrictEqual(elsewhere.code, 0)
        assert.include(
          `${elsewhere.stdout}${elsewhere.stderr}`,
          "no registry answers on stage.list: start `switchyard registry --nats URL`"
        )
      }),
    60_000
  )
})
