/**
 * The `switchyard` executable: parses the command line and runs it, with the
 * subjects, streams and buckets of the deployment `SWITCHYARD_PREFIX` names
 * (none by default), so several deployments can share one NATS server.
 */
import { createRequire } from "node:module"
import * as NodeRuntime from "@effect/platform-node/NodeRuntime"
import * as NodeServices from "@effect/platform-node/NodeServices"
import { Config, Effect } from "effect"
import { Command } from "effect/cli"
import { makeNames, Subjects } from "@switchyard/schemas/Subjects"
import { switchyard } from "./Commands.ts"

const { version } = createRequire(import.meta.url)("@switchyard/runtime/package.json") as { readonly version: string }

const deployment = Config.String("SWITCHYARD_PREFIX").pipe(Config.withDefault(""), Effect.map(makeNames))

switchyard.pipe(
  Command.run({ version }),
  Effect.provideServiceEffect(Subjects, deployment),
  Effect.provide(NodeServices.layer),
  NodeRuntime.runMain
)
