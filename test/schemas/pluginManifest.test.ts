import { assert, describe, it } from "@effect/vitest"
import { Schema } from "effect"
import { catalog, toJsonSchema } from "../../schemas/Catalog.ts"
import { manifestFields, manifestStages, PluginManifest, stageTypeOf, timeoutMillis } from "../../schemas/PluginManifest.ts"
import { Capabilities } from "../../schemas/StageMetadata.ts"

const decode = Schema.decodeUnknownSync(PluginManifest)

const manifest = decode({
  name: "http",
  namespace: "acme",
  version: "1.0.0",
  description: "HTTP requests",
  runtime: "process",
  entry: "./main.js",
  stages: [{ name: "request", description: "Sends a request", output: "set", count: "one", stateKey: ["status", "body"] }],
  capabilities: { network: true, secrets: ["TOKEN"], env: ["HTTP_PROXY"], mounts: [{ path: "/cache", mode: "rw" }] },
  permission: "trusted"
})

describe("PluginManifest", () => {
  it("converts timeouts with units to milliseconds, 30 s by default", () => {
    assert.deepStrictEqual(
      [undefined, "30s", "500ms", "30 seconds", "500 ms", "2m", "1.5 hours", "10s", "3 minutes", "250 milliseconds"].map(timeoutMillis),
      [30000, 30000, 500, 30000, 500, 120000, 5400000, 10000, 180000, 250]
    )
  })

  it("names each action namespace/plugin.action", () => {
    assert.strictEqual(stageTypeOf(manifest, manifest.stages[0]!), "acme/http.request")
  })

  it("gives each stage the plugin id, runtime, default timeout and the capabilities other than env", () => {
    const [stage] = manifestStages(manifest)
    assert.strictEqual(stage!.plugin, "acme/http")
    assert.strictEqual(stage!.runtime, "process")
    assert.strictEqual(stage!.version, "1.0.0")
    assert.strictEqual(stage!.timeoutMs, 30000)
    assert.deepStrictEqual(stage!.stateKey, ["status", "body"])
    assert.instanceOf(stage!.capabilities, Capabilities)
    assert.deepStrictEqual({ ...stage!.capabilities }, { network: true, mounts: [{ path: "/cache", mode: "rw" }], secrets: ["TOKEN"] })
  })

  it("rejects a timeout without a unit", () => {
    assert.throws(() => decode({ ...manifest, stages: [{ ...manifest.stages[0], timeout: 30 }] }))
    assert.throws(() => decode({ ...manifest, stages: [{ ...manifest.stages[0], timeout: "30" }] }))
  })

  it("publishes a JSON Schema that closes every object to the known field names", () => {
    const entry = catalog.find((candidate) => candidate.name === "Plugin")!
    const document = toJsonSchema(entry) as {
      propertyNames: { enum: Array<string> }
      $defs: Record<string, { propertyNames: { enum: Array<string> } }>
    }
    assert.deepStrictEqual(document.propertyNames.enum, [...manifestFields.root])
    assert.deepStrictEqual(document.$defs["PluginStage"]!.propertyNames.enum, [...manifestFields.stage])
    assert.deepStrictEqual(document.$defs["PluginCapabilities"]!.propertyNames.enum, [...manifestFields.capabilities])
    assert.deepStrictEqual(document.$defs["PluginPool"]!.propertyNames.enum, [...manifestFields.pool])
  })

  it("accepts a warm pool only on a process plugin that is not restricted", () => {
    const pooled = decode({ ...manifest, pool: { size: 2, maxTasksPerProcess: 50 } })
    assert.deepStrictEqual({ ...pooled.pool }, { size: 2, maxTasksPerProcess: 50 })
    const { permission: _, ...unset } = manifest
    assert.deepStrictEqual({ ...decode({ ...unset, pool: { size: 1 } }).pool }, { size: 1 })
    assert.throws(() => decode({ ...manifest, permission: "restricted", pool: { size: 2 } }), /trusted process plugins/)
    assert.throws(() => decode({ ...manifest, runtime: "inline", pool: { size: 2 } }), /runtime inline/)
    assert.throws(() => decode({ ...manifest, pool: { size: 0 } }))
  })

  it("says in the JSON Schema that a pool needs runtime process and permission trusted", () => {
    const entry = catalog.find((candidate) => candidate.name === "Plugin")!
    const document = toJsonSchema(entry) as { allOf: Array<unknown> }
    assert.deepStrictEqual(document.allOf, [
      {
        if: { required: ["pool"] },
        then: { properties: { runtime: { const: "process" }, permission: { const: "trusted" } } }
      }
    ])
  })
})
