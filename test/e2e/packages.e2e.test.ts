/**
 * The published packages, used as a project outside this repository would:
 * `@switchyard/sdk` (with the `@switchyard/schemas` and `@switchyard/bus` it
 * depends on) packed with `npm pack`, installed from the tarballs into a
 * temporary folder, then used from plain JavaScript against a deployment
 * over a real nats-server; and a plugin scaffolded by `switchyard plugin
 * init` there, whose own tests run against the installed SDK.
 */
import { execFile } from "node:child_process"
import { mkdtemp, readdir, rm, stat, writeFile } from "node:fs/promises"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { promisify } from "node:util"
import { fileURLToPath } from "node:url"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Schema } from "effect"
import { runCli } from "./support/CliProcess.ts"
import { ownNatsServer } from "./support/ownNatsServer.ts"
import { startStack } from "./support/Stack.ts"

const natsUrl = ownNatsServer()
const repoRoot = fileURLToPath(new URL("../../", import.meta.url))
const sdkPackages = ["@switchyard/schemas", "@switchyard/bus", "@switchyard/sdk"] as const
const allPackages = [...sdkPackages, "@switchyard/plugin-hello", "@switchyard/plugin-core", "@switchyard/runtime"] as const
// Everything the SDK installs besides `effect` (about 60 MB on disk by itself, the floor of any package built on it).
const sizeBesideEffectLimitBytes = 10 * 1024 * 1024

// Outside the repository nothing resolves the workspaces' TypeScript sources.
const userEnv = (): NodeJS.ProcessEnv => {
  const { NODE_OPTIONS: _ignored, ...env } = process.env
  return env
}

const exec = (file: string, args: ReadonlyArray<string>, cwd: string) =>
  Effect.tryPromise({
    try: () => promisify(execFile)(file, [...args], { cwd, env: userEnv(), maxBuffer: 16 * 1024 * 1024 }),
    catch: (cause) => new Error(`${file} ${args.join(" ")} in ${cwd} failed: ${String(cause)}`)
  })

/** A scratch folder outside the repository, removed with the scope. */
const scratch = (label: string) =>
  Effect.acquireRelease(
    Effect.promise(() => mkdtemp(join(tmpdir(), `switchyard-${label}-`))),
    (dir) => Effect.promise(() => rm(dir, { recursive: true, force: true }))
  )

const sizeOf = (path: string): Promise<number> =>
  stat(path).then(async (info) =>
    info.isDirectory()
      ? (await Promise.all((await readdir(path)).map((name) => sizeOf(join(path, name))))).reduce((a, b) => a + b, 0)
      : info.size
  )

/** Builds the packages and packs the given ones (the SDK's three by default) into `dir`; returns the tarballs' paths. */
const packSdk = (dir: string, packages: ReadonlyArray<string> = sdkPackages) =>
  Effect.gen(function* () {
    yield* exec("npm", ["run", "build"], repoRoot)
    const packed = yield* exec("npm", ["pack", "--json", "--pack-destination", dir, ...packages.flatMap((name) => ["-w", name])], repoRoot)
    const files = Schema.decodeUnknownSync(Schema.fromJsonString(Schema.Array(Schema.Struct({ filename: Schema.String }))))(packed.stdout)
    return files.map((file) => join(dir, file.filename))
  })

const client = `
import { connect } from "@switchyard/sdk"
const [natsUrl] = process.argv.slice(2)
const switchyard = await connect({ natsUrl })
try {
  const task = await switchyard.runTask({ stageType: "hello.shout", pool: "hello", inputs: { text: "packed" } })
  const pipeline = "name: packed\\nstages:\\n  - name: greet\\n    type: hello.greet\\n    inputs:\\n      name: Tarball\\n"
  const run = await switchyard.submitRun({ pipeline })
  let finished
  for await (const event of run.events) if (event.kind === "run.finished") finished = event
  console.log(JSON.stringify({ task: task.status === "succeeded" ? task.output : task, status: finished.status, greeting: finished.state.greeting }))
} finally {
  await switchyard.close()
}
`

describe("the packages installed outside the repository", () => {
  it.live(
    "install @switchyard/sdk from packed tarballs with no dependency but effect, nats.js and yaml, and run a task and a pipeline over NATS from plain JavaScript",
    () =>
      Effect.gen(function* () {
        const tarballs = yield* packSdk(yield* scratch("packs"))
        assert.lengthOf(tarballs, 3)
        const project = yield* scratch("project")
        yield* Effect.promise(() =>
          writeFile(join(project, "package.json"), JSON.stringify({ name: "sdk-user", private: true, type: "module" }))
        )
        yield* exec("npm", ["install", "--no-audit", "--no-fund", "--prefer-offline", ...tarballs], project)
        const modules = join(project, "node_modules")
        const installed = yield* Effect.promise(async () =>
          (await readdir(modules)).filter((name) => !name.startsWith("@") && !name.startsWith(".")).sort()
        )
        // nats.js brings tweetnacl, and its object store (the blob store) js-sha256.
        assert.deepStrictEqual(installed, ["effect", "js-sha256", "tweetnacl", "yaml"])
        const scoped = yield* Effect.promise(async () => [...(await readdir(join(modules, "@switchyard")))].sort())
        assert.deepStrictEqual(scoped, ["bus", "schemas", "sdk"])
        const all = yield* Effect.promise(() => sizeOf(modules))
        const effect = yield* Effect.promise(() => sizeOf(join(modules, "effect")))
        assert.isBelow(all - effect, sizeBesideEffectLimitBytes, `@switchyard/sdk installs ${all} bytes, ${effect} of them effect`)

        yield* startStack({ natsUrl: natsUrl(), replicas: ["a"] })
        yield* Effect.promise(() => writeFile(join(project, "client.mjs"), client))
        const ran = yield* exec(process.execPath, ["client.mjs", natsUrl()], project)
        assert.deepStrictEqual(JSON.parse(ran.stdout), { task: "PACKED", status: "succeeded", greeting: { greeting: "Hello, Tarball!" } })
      }),
    240_000
  )

  it.live(
    "scaffold a plugin with `switchyard plugin init` whose own tests pass against the installed SDK",
    () =>
      Effect.gen(function* () {
        const tarballs = yield* packSdk(yield* scratch("packs"))
        const project = yield* scratch("plugin")
        const init = yield* runCli({ label: "plugin init", args: ["plugin", "init", "greeter"], cwd: project })
        assert.strictEqual(init.code, 0, init.stderr)
        const plugin = join(project, "greeter")
        yield* exec("npm", ["install", "--no-audit", "--no-fund", "--prefer-offline", ...tarballs], plugin)
        const tested = yield* exec("npm", ["test"], plugin)
        assert.match(tested.stdout, /\bpass 2\b/)
        assert.match(tested.stdout, /\bfail 0\b/)
      }),
    240_000
  )

  it.live(
    "install the switchyard command from all six tarballs and run the example and the document stages embedded",
    () =>
      Effect.gen(function* () {
        const tarballs = yield* packSdk(yield* scratch("packs"), allPackages)
        assert.lengthOf(tarballs, 6)
        const project = yield* scratch("runtime")
        yield* Effect.promise(() =>
          writeFile(join(project, "package.json"), JSON.stringify({ name: "runtime-user", private: true, type: "module" }))
        )
        yield* exec("npm", ["install", "--no-audit", "--no-fund", "--prefer-offline", ...tarballs], project)
        const pipeline = [
          "name: installed",
          "stages:",
          "  - name: greet",
          "    type: hello.greet",
          "    inputs: { name: Installed }",
          "  - name: ingest",
          "    type: ingest",
          `    inputs: { sources: [${JSON.stringify(join(repoRoot, "examples", "data"))}] }`,
          "  - name: parse",
          "    type: parse",
          "    depends_on: [ingest]",
          '    inputs: { payloads: "{{ state.payloads }}" }',
          ""
        ].join("\n")
        yield* Effect.promise(() => writeFile(join(project, "installed.yaml"), pipeline))
        const ran = yield* exec(join(project, "node_modules", ".bin", "switchyard"), ["run", "installed.yaml", "--json"], project)
        const finished = JSON.parse(ran.stdout.trim().split("\n").at(-1)!) as {
          readonly kind: string
          readonly status: string
          readonly state: { readonly greeting: unknown; readonly documents: ReadonlyArray<unknown> }
        }
        assert.deepStrictEqual([finished.kind, finished.status], ["run.finished", "succeeded"])
        assert.deepStrictEqual(finished.state.greeting, { greeting: "Hello, Installed!" })
        assert.lengthOf(finished.state.documents, 4)
      }),
    240_000
  )
})
