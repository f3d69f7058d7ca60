/** The `switchyard` executable: parses the command line and runs it. */
import { NodeRuntime, NodeServices } from "@effect/platform-node"
import { Effect } from "effect"
import { Command } from "effect/cli"
import packageJson from "../../package.json" with { type: "json" }
import { switchyard } from "./Commands.ts"

switchyard.pipe(Command.run({ version: packageJson.version }), Effect.provide(NodeServices.layer), NodeRuntime.runMain)
