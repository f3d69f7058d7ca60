import { spawnSync } from "node:child_process"
import { existsSync, readFileSync } from "node:fs"
import { fileURLToPath } from "node:url"
import { describe, expect, it } from "vitest"

const repoRoot = fileURLToPath(new URL("../../../", import.meta.url))
const bin = fileURLToPath(new URL("../../../services/bin/switchyard.js", import.meta.url))
const checkModule = new URL("../../../services/bin/nodeVersion.js", import.meta.url).href

// Plain JavaScript without declarations: the test states the shape it relies on.
const check = (await import(checkModule)) as {
  readonly minimumNodeVersion: string
  readonly isSupportedNode: (version: string) => boolean
  readonly unsupportedNodeMessage: (version: string) => string | undefined
}

const packageJson = JSON.parse(readFileSync(new URL("../../../package.json", import.meta.url), "utf8")) as {
  readonly engines: { readonly node: string }
}

/** Node's version as `node --version` prints it, or undefined when there is no such executable. */
const versionOf = (node: string): string | undefined => {
  if (!existsSync(node)) return undefined
  const result = spawnSync(node, ["--version"], { encoding: "utf8" })
  return result.status === 0 ? result.stdout.trim().replace(/^v/, "") : undefined
}

describe("the Node.js version check of the switchyard bin", () => {
  it("states the same minimum as package.json engines, the README and the CI script", () => {
    expect(packageJson.engines.node).toBe(`>=${check.minimumNodeVersion}`)
    const short = check.minimumNodeVersion.replace(/\.0$/, "")
    expect(readFileSync(new URL("../../../README.md", import.meta.url), "utf8")).toContain(`Node >= ${short}`)
    expect(readFileSync(new URL("../../../.ci/run", import.meta.url), "utf8")).toContain(`Node.js >= ${short} is required`)
  })

  it("accepts the minimum and newer releases and refuses older ones", () => {
    expect(check.unsupportedNodeMessage(check.minimumNodeVersion)).toBeUndefined()
    expect(check.isSupportedNode("v24.0.0")).toBe(true)
    expect(check.isSupportedNode("22.20.1")).toBe(true)
    expect(check.isSupportedNode("23.0.0")).toBe(true)
    expect(check.isSupportedNode("22.18.9")).toBe(false)
    expect(check.isSupportedNode("22.12.0")).toBe(false)
    expect(check.unsupportedNodeMessage("v18.19.1")).toBe(
      `switchyard needs Node.js >= ${check.minimumNodeVersion}, but this is Node.js 18.19.1; install a newer Node.js (such as Node.js 24 LTS) and run it again`
    )
  })

  it("prints one line naming the Node.js version needed and exits 1 on Node 20", () => {
    // /usr/bin/node is Debian's Node 20 on the development machines. Where it is missing or new
    // enough, the real bin file runs in a real process whose reported version is set to 20
    // before the file is imported; nothing in the check itself knows about it.
    const old = versionOf("/usr/bin/node")
    const result =
      old !== undefined && !check.isSupportedNode(old)
        ? spawnSync("/usr/bin/node", [bin, "--version"], { cwd: repoRoot, encoding: "utf8" })
        : spawnSync(
            process.execPath,
            [
              "--input-type=module",
              "-e",
              `Object.defineProperty(process.versions, "node", { value: "20.20.2" }); await import(${JSON.stringify(new URL("../../../services/bin/switchyard.js", import.meta.url).href)})`
            ],
            { cwd: repoRoot, encoding: "utf8" }
          )
    const seen = old !== undefined && !check.isSupportedNode(old) ? old : "20.20.2"
    expect(result.stdout).toBe("")
    expect(result.stderr).toBe(`${check.unsupportedNodeMessage(seen)}\n`)
    expect(result.stderr.trimEnd().split("\n")).toHaveLength(1)
    expect(result.status).toBe(1)
  })
})
