/**
 * The `switchyard` executable: parses the command line and runs it, with the
 * subjects, streams and buckets of the deployment `SWITCHYARD_PREFIX` names
 * (none by default), so several deployments can share one NATS server.
 */
import { NodeRuntime, NodeServices } from "@effect/platform-node"
import { Config, Effect } from "effect"
import { Command } from "effect/cli"
import packageJson from "../../package.json" with { type: "json" }
import { makeNames, Subjects } from "../bus/Subjects.ts"
import { switchyard } from "./Commands.ts"

const deployment = Config.String("SWITCHYARD_PREFIX").pipe(Config.withDefault(""), Effect.map(makeNames))

switchyard.pipe(
  Command.run({ version: packageJson.version }),
  Effect.provideServiceEffect(Subjects, deployment),
  Effect.provide(NodeServices.layer),
  NodeRuntime.runMain
)
