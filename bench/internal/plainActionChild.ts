/**
 * The fresh-process baseline of the plugin benchmark: running a plugin's
 * action in a new `node` process by hand, with nothing of Switchyard's
 * runtime around it. It turns on Node's compile cache (as the runner does),
 * imports the plugin module, runs the named action once with no input,
 * prints its result as one JSON line and exits:
 * `node plainActionChild.ts <pluginModulePath> <action>`.
 */
import { enableCompileCache } from "node:module"
import { tmpdir } from "node:os"
import { resolve } from "node:path"
import { pathToFileURL } from "node:url"

enableCompileCache()
const [modulePath = "", actionName = ""] = process.argv.slice(2)
const { Effect } = await import("effect")
const { isActionDefinition, makePluginLogger } = await import("../../sdk/defineAction.ts")
const module = (await import(pathToFileURL(resolve(modulePath)).href)) as Record<string, unknown>
const action = Object.values(module).find((value) => isActionDefinition(value) && value.name === actionName)
if (!isActionDefinition(action)) throw new Error(`${modulePath} exports no action named ${actionName}`)
const result = await Effect.runPromise(
  action.execute(null, {
    log: makePluginLogger(),
    vars: {},
    secrets: {},
    workDir: tmpdir(),
    signal: new AbortController().signal,
    taskId: "plain",
    runId: "plain",
    attempt: 1
  })
)
process.stdout.write(`${JSON.stringify(result)}\n`)
