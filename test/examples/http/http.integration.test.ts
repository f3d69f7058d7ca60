/**
 * The `http` example plugin as an installed npm package: copied into a
 * temporary project's `node_modules`, found by discovery, served by an
 * executor in child processes and run in a pipeline over a real nats-server
 * against a local HTTP server, alone and beside the built-in core stages.
 */
import { cp, mkdir, mkdtemp, readFile, rm, symlink, writeFile } from "node:fs/promises"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { fileURLToPath } from "node:url"
import { describe, expect, it } from "@effect/vitest"
import { Effect, Layer } from "effect"
import ts from "typescript"
import { inject } from "vitest"
import * as NatsBus from "../../../services/bus/NatsBus.ts"
import { discoverPlugins } from "../../../services/plugins/Discovery.ts"
import { processStages } from "../../../services/plugins/ProcessStage.ts"
import { makeStack } from "../../services/scheduler/harness.ts"
import { stages as coreStages } from "../../../plugins/core/index.ts"
import { localServer } from "./server.ts"

const repoRoot = fileURLToPath(new URL("../../../", import.meta.url))
const pluginDir = fileURLToPath(new URL("../../../examples/plugins/http", import.meta.url))
const effectDir = fileURLToPath(new URL("../../../node_modules/effect", import.meta.url))
const sdkDir = fileURLToPath(new URL("../../../sdk", import.meta.url))

/**
 * A temporary project with the plugin installed as `@switchyard-examples/http`.
 * Node does not strip types under `node_modules`, so the package is installed
 * the way it would be published: `actions.ts` compiled to `actions.js` and
 * the manifest's entry naming the compiled file, next to an installed
 * `effect` and this repository's `@switchyard/sdk`.
 */
const installedProject = Effect.acquireRelease(
  Effect.gen(function* () {
    const projectDir = yield* Effect.promise(() => mkdtemp(join(tmpdir(), "switchyard-http-project-")))
    const packageDir = join(projectDir, "node_modules", "@switchyard-examples", "http")
    yield* Effect.promise(() => cp(pluginDir, packageDir, { recursive: true }))
    const source = yield* Effect.promise(() => readFile(join(packageDir, "actions.ts"), "utf8"))
    const compiled = ts.transpileModule(source, {
      compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022 }
    }).outputText
    yield* Effect.promise(() => writeFile(join(packageDir, "actions.js"), compiled))
    yield* Effect.promise(() => rm(join(packageDir, "actions.ts")))
    const manifest = yield* Effect.promise(() => readFile(join(packageDir, "plugin.yaml"), "utf8"))
    yield* Effect.promise(() => writeFile(join(packageDir, "plugin.yaml"), manifest.replace("entry: ./actions.ts", "entry: ./actions.js")))
    // The project's own dependencies, as `npm install` would have put them there.
    yield* Effect.promise(() => symlink(effectDir, join(projectDir, "node_modules", "effect"), "dir"))
    yield* Effect.promise(() => mkdir(join(projectDir, "node_modules", "@switchyard")))
    yield* Effect.promise(() => symlink(sdkDir, join(projectDir, "node_modules", "@switchyard", "sdk"), "dir"))
    return projectDir
  }),
  (projectDir) => Effect.promise(() => rm(projectDir, { recursive: true, force: true }))
)

describe("http example plugin installed as an npm package", () => {
  it.live(
    "is discovered from node_modules and runs a pipeline stage over NATS",
    () =>
      Effect.gen(function* () {
        const url = yield* localServer()
        const projectDir = yield* installedProject
        const discovered = yield* discoverPlugins({ projectDir, config: { paths: [], prefer: new Map() } })
        const plugin = discovered.stages.get("acme/http.request")
        expect(plugin?.source).toBe("npm")
        expect(plugin?.id).toBe("acme/http")
        const definitions = yield* processStages(plugin!.manifest)

        const stack = yield* makeStack("httpex")
        yield* stack.registry
        yield* stack.executor({ pool: "process", definitions })
        yield* stack.scheduler()
        yield* stack.registered(["acme/http.request"])
        const reply = yield* stack.submit(
          `
name: http-example
stages:
  - name: call
    type: acme/http.request
    inputs: { method: POST, url: "{{ inputs.url }}", headers: { x-from: pipeline }, body: ping }
`,
          { url: `${url}/hook` }
        )
        const { finished } = yield* stack.finished(reply.runId!, "30 seconds")
        expect({ status: finished.status, error: finished.error }).toEqual({ status: "succeeded", error: undefined })
        const response = (finished.state as { response: { status: number; body: string } }).response
        expect(response.status).toBe(200)
        expect(JSON.parse(response.body)).toMatchObject({ method: "POST", url: "/hook", body: "ping", headers: { "x-from": "pipeline" } })
      }).pipe(Effect.scoped, Effect.provide(Layer.orDie(NatsBus.layer({ url: inject("natsUrl") })))),
    60_000
  )

  it.live(
    "runs in one pipeline with the built-in core stages, each served by its own pool",
    () =>
      Effect.gen(function* () {
        const url = yield* localServer()
        const projectDir = yield* installedProject
        const discovered = yield* discoverPlugins({ projectDir, config: { paths: [], prefer: new Map() } })
        const definitions = yield* processStages(discovered.stages.get("acme/http.request")!.manifest)

        const stack = yield* makeStack("httpmix")
        yield* stack.registry
        yield* stack.executor({ pool: "process", definitions })
        yield* stack.executor({ pool: "core", definitions: coreStages })
        yield* stack.scheduler()
        yield* stack.registered(["acme/http.request", "core/core.ingest", "core/core.parse", "core/core.chunk"])
        const reply = yield* stack.submit(
          `
name: mixed
stages:
  - { name: ingest, type: ingest, inputs: { sources: ["{{ inputs.doc }}"] } }
  - { name: parse, type: parse, depends_on: [ingest], inputs: { payloads: "{{ state.payloads }}" } }
  - { name: chunk, type: chunk, depends_on: [parse], config: { size: 300, overlap: 30 }, inputs: { documents: "{{ state.documents }}" } }
  - name: notify
    type: acme/http.request
    depends_on: [chunk]
    inputs:
      method: POST
      url: "{{ inputs.url }}"
      body: "parsed {{ state.documents.0.title }} into chunks starting with {{ state.chunks.0.id }}"
`,
          { url: `${url}/hook`, doc: join(repoRoot, "examples", "data", "metformin.md") }
        )
        const { events, finished } = yield* stack.finished(reply.runId!, "30 seconds")
        expect({ status: finished.status, error: finished.error }).toEqual({ status: "succeeded", error: undefined })
        const state = finished.state as {
          chunks: ReadonlyArray<{ id: string }>
          documents: ReadonlyArray<{ title: string }>
          response: { status: number; body: string }
        }
        expect(state.chunks.length).toBeGreaterThan(1)
        const echoed = JSON.parse(state.response.body) as { body: string }
        expect(echoed.body).toBe(`parsed ${state.documents[0]!.title} into chunks starting with ${state.chunks[0]!.id}`)
        const ranOn = new Map(events.filter((event) => event.kind === "stage.finished").map((event) => [event.stage, event.count] as const))
        expect([...ranOn.keys()].sort()).toEqual(["chunk", "ingest", "notify", "parse"])
        expect(ranOn.get("chunk")).toBe(state.chunks.length)
      }).pipe(Effect.scoped, Effect.provide(Layer.orDie(NatsBus.layer({ url: inject("natsUrl") })))),
    60_000
  )
})
