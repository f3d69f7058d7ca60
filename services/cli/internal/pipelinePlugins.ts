/**
 * A pipeline's `plugins:` section checked against a running deployment, for
 * `switchyard run --nats`: the plugins it names are read here (the folders
 * under `paths`, relative to the pipeline file, and the npm packages under
 * `packages`, installed in the project) to learn their plugin ids, and each
 * must have stage types registered by a pool that is online (`stage.list`).
 * Each plugin that is not served becomes an issue at its entry, saying what
 * to start.
 */
import * as NodePath from "node:path"
import { Effect } from "effect"
import type { PipelineIssue } from "@switchyard/schemas/Run"
import type { RegisteredStage } from "@switchyard/schemas/Registry"
import { discoverPlugins } from "../../plugins/index.ts"
import type { DiscoveredPlugin } from "../../plugins/index.ts"
import { RegistryClient } from "../../registry/index.ts"
import type { ParsedPipeline } from "../../scheduler/index.ts"

/** A plugin the pipeline names, with where it names it. */
interface Required {
  readonly path: string
  readonly plugin: DiscoveredPlugin
  /** How an executor gets to see the plugin, for the hint. */
  readonly howToServe: string
}

const served = (plugin: DiscoveredPlugin, stages: ReadonlyArray<RegisteredStage>): string | undefined => {
  const own = stages.filter((stage) => stage.metadata.plugin === plugin.id)
  if (own.some((stage) => stage.online)) return undefined
  return own.length === 0
    ? "no stage type of it is registered"
    : `its stage types (${own.map((stage) => stage.metadata.type).join(", ")}) are registered, but no pool serving them is online`
}

/** Issues for every plugin the pipeline names that no live pool of the deployment at `url` serves. */
export const unservedPlugins = (options: { readonly parsed: ParsedPipeline; readonly url: string; readonly projectDir: string }) =>
  Effect.gen(function* () {
    const { parsed, projectDir, url } = options
    const plugins = parsed.pipeline.plugins
    if (plugins === undefined) return []
    const pipelineDir = NodePath.dirname(NodePath.resolve(parsed.file))
    const paths = (plugins.paths ?? []).map((path) => NodePath.resolve(pipelineDir, path))
    const discovered = yield* discoverPlugins({ projectDir, config: { paths, prefer: new Map() } })
    const issues: Array<PipelineIssue> = []
    const required: Array<Required> = []
    paths.forEach((dir, index) => {
      const inside = discovered.plugins.filter(
        (plugin) => plugin.source === "path" && (plugin.location === dir || NodePath.dirname(plugin.location) === dir)
      )
      if (inside.length === 0) {
        issues.push(
          parsed.issueAt(
            `plugins.paths[${index}]`,
            `expected a plugin folder (with plugin.yaml) or a folder of plugin folders at ${dir}, found none, so the deployment cannot be checked for it`
          )
        )
      }
      for (const plugin of inside) {
        required.push({
          path: `plugins.paths[${index}]`,
          plugin,
          howToServe: `SWITCHYARD_PLUGINS_PATH=${plugin.location}`
        })
      }
    })
    const modulesDir = NodePath.resolve(projectDir, "node_modules")
    ;(plugins.packages ?? []).forEach((packageName, index) => {
      const plugin = discovered.plugins.find(
        (candidate) =>
          candidate.source === "npm" && NodePath.relative(modulesDir, candidate.location).split(NodePath.sep).join("/") === packageName
      )
      if (plugin === undefined) {
        issues.push(
          parsed.issueAt(
            `plugins.packages[${index}]`,
            `expected the npm package ${packageName} installed as a Switchyard plugin in ${modulesDir}, found none, so the deployment cannot be checked for it`
          )
        )
        return
      }
      required.push({ path: `plugins.packages[${index}]`, plugin, howToServe: `in a project with ${packageName} installed:` })
    })
    if (required.length === 0) return issues
    const registry = yield* RegistryClient
    const { stages } = yield* registry.list()
    for (const { howToServe, path, plugin } of required) {
      const why = served(plugin, stages)
      if (why === undefined) continue
      issues.push(
        parsed.issueAt(
          path,
          `plugin ${plugin.id} (${plugin.location}) is not served by the deployment at ${url}: ${why}; start an executor that serves it: ${howToServe} switchyard executor --runtime ${plugin.manifest.manifest.runtime === "inline" ? "inline" : "process"} --pool ${plugin.manifest.manifest.name} --nats ${url}`
        )
      )
    }
    return issues
  })
