import { assert, describe, it } from "@effect/vitest"
import * as NodePath from "node:path"
import { Effect } from "effect"
import { StageMetadata } from "../../../schemas/StageMetadata.ts"
import { ManifestError, formatManifestIssue } from "../../../services/plugins/ManifestError.ts"
import { loadManifest, loadManifestFile } from "../../../services/plugins/ManifestLoader.ts"

const file = "/srv/plugins/http/plugin.yaml"

const valid = `name: http
namespace: acme
version: 1.2.3
description: HTTP requests
runtime: process
entry: ./src/main.js
permission: restricted
stages:
  - name: request
    description: Sends a request
    stateKey: response
    output: set
    count: one
    timeout: 5 seconds
    inputs:
      type: object
      properties:
        url: { type: string }
  - name: fetch-all
    description: Fetches many
    version: 2.0.0
    output: append
    count: length(items) + one
    timeout: 1500ms
    dependencies: [acme/http.request]
  - name: ping
    description: Pings
    output: none
    count: none
capabilities:
  network: true
  mounts:
    - path: /data
      mode: ro
  secrets: [TOKEN]
  env: [HTTP_PROXY]
`

/** The manifest with `from` replaced by `to` (which must occur exactly once). */
const variant = (from: string, to: string): string => {
  assert.strictEqual(valid.split(from).length, 2, `"${from}" occurs once in the valid manifest`)
  return valid.replace(from, to)
}

/** Every issue of a refused manifest as `file:line:column: path: message`. */
const refusal = (text: string) =>
  Effect.gen(function* () {
    const error = yield* Effect.flip(loadManifest({ file, text }))
    assert.instanceOf(error, ManifestError)
    assert.strictEqual(error.file, file)
    return error.issues.map(formatManifestIssue)
  })

describe("ManifestLoader", () => {
  it.effect("turns a valid manifest into the stage metadata of each action", () =>
    Effect.gen(function* () {
      const loaded = yield* loadManifest({ file, text: valid })
      assert.strictEqual(loaded.dir, "/srv/plugins/http")
      assert.deepStrictEqual(
        loaded.stages.map((stage) => stage.type),
        ["acme/http.request", "acme/http.fetch-all", "acme/http.ping"]
      )
      const [request, fetchAll, ping] = loaded.stages
      assert.instanceOf(request, StageMetadata)
      assert.deepStrictEqual(
        { ...request!, capabilities: { ...request!.capabilities } },
        {
          type: "acme/http.request",
          version: "1.2.3",
          description: "Sends a request",
          plugin: "acme/http",
          stateKey: "response",
          output: "set",
          count: "one",
          dependencies: [],
          inputs: { type: "object", properties: { url: { type: "string" } } },
          runtime: "process",
          timeoutMs: 5000,
          capabilities: { network: true, mounts: [{ path: "/data", mode: "ro" }], secrets: ["TOKEN"] }
        }
      )
      assert.strictEqual(fetchAll!.version, "2.0.0")
      assert.strictEqual(fetchAll!.timeoutMs, 1500)
      assert.deepStrictEqual(fetchAll!.dependencies, ["acme/http.request"])
      assert.strictEqual(ping!.stateKey, null)
      assert.strictEqual(ping!.timeoutMs, 30000)
    })
  )

  it.effect("reports a YAML syntax error with its line and column", () =>
    Effect.gen(function* () {
      const issues = yield* refusal(variant("description: HTTP requests\n", "description: [HTTP requests\n"))
      assert.deepStrictEqual(issues, [
        `${file}:5:1: YAML syntax error: Flow sequence in block collection must be sufficiently indented and end with a ]`
      ])
    })
  )

  it.effect("refuses an unknown field and suggests the closest known one", () =>
    Effect.gen(function* () {
      const issues = yield* refusal(variant("    count: one\n", "    count: one\n    descripton: again\n"))
      assert.deepStrictEqual(issues, [
        `${file}:14:5: stages[0].descripton: unknown field "descripton"; did you mean "description"? (expected one of: name, description, version, stateKey, output, count, dependencies, inputs, outputs, timeout)`
      ])
    })
  )

  it.effect("refuses an unknown top-level field without a plausible suggestion", () =>
    Effect.gen(function* () {
      const issues = yield* refusal(`${valid}zzzzzzzzzzzzzz: 1\n`)
      assert.deepStrictEqual(issues, [
        `${file}:37:1: zzzzzzzzzzzzzz: unknown field "zzzzzzzzzzzzzz" (expected one of: name, namespace, version, description, runtime, entry, image, stages, capabilities, permission, pool)`
      ])
    })
  )

  it.effect("refuses a missing required field", () =>
    Effect.gen(function* () {
      const issues = yield* refusal(variant("namespace: acme\n", ""))
      assert.deepStrictEqual(issues, [`${file}:1:1: namespace: expected required field "namespace", found nothing`])
    })
  )

  it.effect("refuses a field of the wrong type, saying what it found", () =>
    Effect.gen(function* () {
      const issues = yield* refusal(variant("  network: true\n", "  network: sometimes\n"))
      assert.deepStrictEqual(issues, [`${file}:31:12: capabilities.network: expected boolean, found "sometimes"`])
    })
  )

  it.effect("refuses a version that is not semver", () =>
    Effect.gen(function* () {
      const issues = yield* refusal(variant("version: 1.2.3\n", "version: v1.2.3\n"))
      assert.deepStrictEqual(issues, [`${file}:3:10: version: expected a semantic version such as 1.2.3, found "v1.2.3"`])
    })
  )

  it.effect("refuses a manifest with both entry and image", () =>
    Effect.gen(function* () {
      const issues = yield* refusal(variant("entry: ./src/main.js\n", "entry: ./src/main.js\nimage: acme/http:1\n"))
      assert.deepStrictEqual(issues, [
        `${file}:7:8: image: expected either entry or image, found both (entry "./src/main.js", image "acme/http:1")`
      ])
    })
  )

  it.effect("refuses a process manifest with neither entry nor image", () =>
    Effect.gen(function* () {
      const issues = yield* refusal(variant("entry: ./src/main.js\n", ""))
      assert.deepStrictEqual(issues, [`${file}:5:10: runtime: expected entry for runtime process, found neither entry nor image`])
    })
  )

  it.effect("refuses an image for a process runtime", () =>
    Effect.gen(function* () {
      const issues = yield* refusal(variant("entry: ./src/main.js\n", "image: acme/http:1\n"))
      assert.deepStrictEqual(issues, [`${file}:6:8: image: expected entry for runtime process, found image "acme/http:1"`])
    })
  )

  it.effect("refuses an entry for a docker runtime", () =>
    Effect.gen(function* () {
      const issues = yield* refusal(variant("runtime: process\n", "runtime: docker\n"))
      assert.deepStrictEqual(issues, [`${file}:6:8: entry: expected image for runtime docker, found entry "./src/main.js"`])
    })
  )

  it.effect("accepts a docker manifest with an image", () =>
    Effect.gen(function* () {
      const loaded = yield* loadManifest({
        file,
        text: variant("runtime: process\nentry: ./src/main.js\n", "runtime: docker\nimage: acme/http:1\n")
      })
      assert.deepStrictEqual(
        loaded.stages.map((stage) => stage.runtime),
        ["docker", "docker", "docker"]
      )
    })
  )

  it.effect("refuses an action name that is not a subject token", () =>
    Effect.gen(function* () {
      const issues = yield* refusal(variant("  - name: request\n", "  - name: send.request\n"))
      assert.deepStrictEqual(issues, [
        `${file}:9:11: stages[0].name: expected a subject-safe token (lower case letters, digits, _ and -, starting with a letter or digit), found "send.request"`
      ])
    })
  )

  it.effect("refuses a wildcard or pattern among the secrets, naming where it stands", () =>
    Effect.gen(function* () {
      const issues = yield* refusal(variant("  secrets: [TOKEN]\n", '  secrets: [TOKEN, "*", API_*]\n'))
      const expected =
        "expected a secret key named in full (letters, digits and _, not starting with a digit); wildcards and patterns are not accepted"
      assert.deepStrictEqual(issues, [
        `${file}:35:20: capabilities.secrets[1]: ${expected}, found "*"`,
        `${file}:35:25: capabilities.secrets[2]: ${expected}, found "API_*"`
      ])
    })
  )

  it.effect("refuses two actions with the same name", () =>
    Effect.gen(function* () {
      const issues = yield* refusal(variant("  - name: ping\n", "  - name: request\n"))
      assert.deepStrictEqual(issues, [
        `${file}:26:11: stages[2].name: expected a unique action name, found "request" again (first at stages[0])`
      ])
    })
  )

  it.effect("refuses a mount that escapes with ..", () =>
    Effect.gen(function* () {
      const issues = yield* refusal(variant("    - path: /data\n", "    - path: /data/../etc\n"))
      assert.deepStrictEqual(issues, [
        `${file}:33:13: capabilities.mounts[0].path: expected a mount path without .. segments, found "/data/../etc"`
      ])
    })
  )

  it.effect("refuses a mount of the whole filesystem", () =>
    Effect.gen(function* () {
      const issues = yield* refusal(variant("    - path: /data\n", "    - path: //\n"))
      assert.deepStrictEqual(issues, [
        `${file}:33:13: capabilities.mounts[0].path: expected a mount path below /, found "//" (the whole filesystem)`
      ])
    })
  )

  it.effect("refuses a mount of the Docker socket or a folder holding it", () =>
    Effect.gen(function* () {
      const socket = yield* refusal(variant("    - path: /data\n", "    - path: /var/run/docker.sock\n"))
      assert.deepStrictEqual(socket, [
        `${file}:33:13: capabilities.mounts[0].path: expected a mount path that does not expose the Docker socket, found "/var/run/docker.sock" (includes /var/run/docker.sock)`
      ])
      const folder = yield* refusal(variant("    - path: /data\n", "    - path: /run/\n"))
      assert.deepStrictEqual(folder, [
        `${file}:33:13: capabilities.mounts[0].path: expected a mount path that does not expose the Docker socket, found "/run/" (includes /run/docker.sock)`
      ])
    })
  )

  it.effect("refuses an entry module outside the plugin folder", () =>
    Effect.gen(function* () {
      const relative = yield* refusal(variant("entry: ./src/main.js\n", "entry: ../other/main.js\n"))
      assert.deepStrictEqual(relative, [
        `${file}:6:8: entry: expected a module path inside the plugin folder, found "../other/main.js" (resolves to /srv/plugins/other/main.js)`
      ])
      const absolute = yield* refusal(variant("entry: ./src/main.js\n", "entry: /srv/plugins/http/main.js\n"))
      assert.deepStrictEqual(absolute, [
        `${file}:6:8: entry: expected a module path inside the plugin folder, found "/srv/plugins/http/main.js" (resolves to /srv/plugins/http/main.js)`
      ])
    })
  )

  it.effect("refuses a bad count expression", () =>
    Effect.gen(function* () {
      const issues = yield* refusal(variant("    count: one\n", "    count: lots\n"))
      assert.deepStrictEqual(issues, [
        `${file}:13:12: stages[0].count: expected none, one, length, length(path), field(path) or a sum of those joined with +, found "lots"`
      ])
    })
  )

  it.effect("refuses a bad output mode", () =>
    Effect.gen(function* () {
      const issues = yield* refusal(variant("    output: set\n", "    output: replace\n"))
      assert.deepStrictEqual(issues, [
        `${file}:12:13: stages[0].output: expected "set" | "append" | "merge" | "unpack" | "none", found "replace"`
      ])
    })
  )

  it.effect("refuses a bad timeout", () =>
    Effect.gen(function* () {
      const issues = yield* refusal(variant("    timeout: 5 seconds\n", "    timeout: soon\n"))
      assert.deepStrictEqual(issues, [
        `${file}:14:14: stages[0].timeout: expected a duration with a unit such as 30s, 500ms, 2m or 10 seconds, found "soon"`
      ])
    })
  )

  it.effect("refuses a timeout written as a bare number, saying to add a unit", () =>
    Effect.gen(function* () {
      const issues = yield* refusal(variant("    timeout: 5 seconds\n", "    timeout: 30\n"))
      assert.deepStrictEqual(issues, [
        `${file}:14:5: stages[0].timeout: expected a duration with a unit such as 30s, 500ms or 2m, found the bare number 30; add a unit (30ms if milliseconds were meant, 30s for seconds)`
      ])
    })
  )

  it.effect("reads timeouts with short units", () =>
    Effect.gen(function* () {
      const loaded = yield* loadManifest({ file, text: variant("    timeout: 5 seconds\n", "    timeout: 30s\n") })
      assert.deepStrictEqual(
        loaded.stages.map((stage) => stage.timeoutMs),
        [30000, 1500, 30000]
      )
    })
  )

  it.effect("reports every problem of a manifest at once", () =>
    Effect.gen(function* () {
      const issues = yield* refusal(variant("version: 1.2.3\n", "version: one\nnamspace: acme\n"))
      assert.deepStrictEqual(issues, [
        `${file}:4:1: namspace: unknown field "namspace"; did you mean "namespace"? (expected one of: name, namespace, version, description, runtime, entry, image, stages, capabilities, permission, pool)`,
        `${file}:3:10: version: expected a semantic version such as 1.2.3, found "one"`
      ])
    })
  )

  it.effect("accepts a warm pool on a trusted process plugin", () =>
    Effect.gen(function* () {
      const text = variant("permission: restricted\n", "permission: trusted\npool:\n  size: 4\n  maxTasksPerProcess: 100\n")
      const loaded = yield* loadManifest({ file, text })
      assert.deepStrictEqual({ ...loaded.manifest.pool }, { size: 4, maxTasksPerProcess: 100 })
      const unset = yield* loadManifest({ file, text: variant("permission: restricted\n", "pool: { size: 1 }\n") })
      assert.deepStrictEqual({ ...unset.manifest.pool }, { size: 1 })
    })
  )

  it.effect("names an unknown field inside pool", () =>
    Effect.gen(function* () {
      const issues = yield* refusal(variant("permission: restricted\n", "permission: trusted\npool:\n  size: 2\n  maxTaskPerProcess: 3\n"))
      assert.strictEqual(issues.length, 1)
      assert.match(issues[0]!, /^.*:\d+:3: pool\.maxTaskPerProcess: unknown field "maxTaskPerProcess"; did you mean "maxTasksPerProcess"\?/)
    })
  )

  it.effect("refuses a warm pool on a plugin that asks for permission restricted", () =>
    Effect.gen(function* () {
      const issues = yield* refusal(variant("stages:\n", "pool:\n  size: 2\nstages:\n"))
      assert.deepStrictEqual(issues, [
        `${file}:9:3: pool: expected no pool (a warm pool is only for trusted process plugins: runtime process, permission trusted or unset; this plugin has permission restricted), found a mapping`
      ])
    })
  )

  it.effect("refuses a warm pool on a plugin that does not run as process", () =>
    Effect.gen(function* () {
      const text = variant("permission: restricted\n", "permission: trusted\npool: { size: 2 }\n").replace(
        "runtime: process",
        "runtime: inline"
      )
      const issues = yield* refusal(text)
      assert.deepStrictEqual(issues, [
        `${file}:8:7: pool: expected no pool (a warm pool is only for trusted process plugins: runtime process, permission trusted or unset; this plugin has runtime inline), found a mapping`
      ])
    })
  )

  it.effect("refuses a warm pool size below one", () =>
    Effect.gen(function* () {
      const issues = yield* refusal(variant("permission: restricted\n", "pool:\n  size: 0\n  maxTasksPerProcess: 1.5\n"))
      assert.deepStrictEqual(issues, [
        `${file}:8:9: pool.size: expected a value greater than or equal to 1, found 0`,
        `${file}:9:23: pool.maxTasksPerProcess: expected an integer, found 1.5`
      ])
    })
  )

  it.effect("refuses a document that is not a mapping", () =>
    Effect.gen(function* () {
      const issues = yield* refusal("- just\n- a list\n")
      assert.deepStrictEqual(issues, [`${file}:1:1: expected a mapping of manifest fields, found a list`])
    })
  )

  it.effect("loads the example process plugin from its file", () =>
    Effect.gen(function* () {
      const path = NodePath.join(import.meta.dirname, "../../../examples/plugins/hello-process/plugin.yaml")
      const loaded = yield* loadManifestFile(path)
      assert.deepStrictEqual(
        loaded.stages.map((stage) => [stage.type, stage.plugin, stage.runtime, stage.timeoutMs]),
        [["examples/hello-process.greet", "examples/hello-process", "process", 10000]]
      )
    })
  )

  it.effect("refuses a manifest file that cannot be read", () =>
    Effect.gen(function* () {
      const path = "/nonexistent/switchyard/plugin.yaml"
      const error = yield* Effect.flip(loadManifestFile(path))
      assert.strictEqual(error.issues.length, 1)
      assert.match(
        formatManifestIssue(error.issues[0]!),
        /^\/nonexistent\/switchyard\/plugin\.yaml:1:1: expected a readable manifest file, found ENOENT/
      )
    })
  )
})
