/**
 * The deployment stack as files: docker-compose.yml checked by Debian's
 * docker-compose (which validates a file without a Docker daemon or any
 * image), the topology it describes, the Prometheus configuration checked by
 * promtool and matched against the services' HTTP port, the Grafana
 * dashboard's PromQL checked by promtool and limited to the metrics the
 * services expose, the NATS configuration and the Dockerfile's runtime stage.
 * Both tools are required: a machine without them fails here, naming the
 * Debian package to install.
 */
import { spawnSync } from "node:child_process"
import { existsSync, readdirSync, readFileSync } from "node:fs"
import { mkdtemp, rm, writeFile } from "node:fs/promises"
import { tmpdir } from "node:os"
import { join, posix, resolve } from "node:path"
import { fileURLToPath } from "node:url"
import { describe, expect, it, onTestFinished } from "vitest"
import { parse, stringify } from "yaml"

const repoRoot = fileURLToPath(new URL("../../", import.meta.url))
const repoFile = (path: string) => join(repoRoot, path)
const readRepoFile = (path: string) => readFileSync(repoFile(path), "utf8")

/** The path of a command on the PATH (with /usr/sbin, where Debian puts some), or a failure naming the package. */
const requireTool = (command: string, debianPackage: string): string => {
  const path = [...(process.env.PATH ?? "").split(":"), "/usr/sbin", "/usr/bin"]
    .filter((folder) => folder !== "")
    .map((folder) => join(folder, command))
    .find((candidate) => existsSync(candidate))
  if (path === undefined) {
    throw new Error(`${command} is not installed; it is needed to check the deployment files: apt-get install ${debianPackage}`)
  }
  return path
}

const run = (command: string, args: ReadonlyArray<string>, cwd: string) => {
  const result = spawnSync(command, args, { cwd, encoding: "utf8", timeout: 60_000 })
  if (result.error !== undefined) throw result.error
  return { status: result.status, output: `${result.stdout}${result.stderr}` }
}

const dockerCompose = () => requireTool("docker-compose", "docker-compose")
const promtool = () => requireTool("promtool", "prometheus")

const scratchDir = async (prefix: string) => {
  const dir = await mkdtemp(join(tmpdir(), prefix))
  onTestFinished(() => rm(dir, { recursive: true, force: true }))
  return dir
}

// The metrics the services expose, by their OpenTelemetry names; on /metrics dots become
// underscores, counters end in _total and histograms are _bucket, _sum and _count series.
const metrics = {
  "switchyard.tasks": "counter",
  "switchyard.task.duration": "histogram",
  "switchyard.task.redeliveries": "counter",
  "switchyard.task.dead_letters": "counter",
  "switchyard.queue.depth": "gauge",
  "switchyard.queue.pending_acks": "gauge",
  "switchyard.runs.started": "counter",
  "switchyard.runs.finished": "counter",
  "switchyard.run.duration": "histogram",
  "switchyard.scheduler.apply.duration": "histogram",
  "switchyard.plugin.exits": "counter",
  "switchyard.plugin.memory.peak": "histogram",
  "switchyard.registrations": "counter",
  "switchyard.plugin.discovery.duration": "histogram"
} as const
const attributes = [
  "switchyard.stage.type",
  "switchyard.pool",
  "switchyard.task.outcome",
  "switchyard.run.status",
  "switchyard.registration.outcome",
  "process.exit.code",
  "process.exit.signal"
]
const prometheusName = (name: string) => name.replaceAll(".", "_")
const seriesOf = (name: string, kind: (typeof metrics)[keyof typeof metrics]): ReadonlyArray<string> => {
  const base = prometheusName(name)
  if (kind === "counter") return [`${base}_total`]
  if (kind === "histogram") return [`${base}_bucket`, `${base}_sum`, `${base}_count`]
  return [base]
}
const seriesToMetric = new Map(Object.entries(metrics).flatMap(([name, kind]) => seriesOf(name, kind).map((series) => [series, name])))
const labelNames = new Set(attributes.map(prometheusName))

const switchyardServices = ["registry", "scheduler", "executor-inline", "executor-process"] as const
const executors = ["executor-inline", "executor-process"] as const
const allServices = ["nats", "otel-collector", "jaeger", "prometheus", "grafana", ...switchyardServices]

interface ComposeService {
  readonly image?: string
  readonly build?: { readonly context?: string; readonly dockerfile?: string }
  readonly command?: ReadonlyArray<string> | string
  readonly environment?: Readonly<Record<string, string | number | boolean | null>> | ReadonlyArray<string>
  readonly healthcheck?: { readonly test?: ReadonlyArray<string> | string }
  readonly depends_on?: Readonly<Record<string, { readonly condition?: string }>> | ReadonlyArray<string>
  readonly volumes?: ReadonlyArray<string>
  readonly ports?: ReadonlyArray<string>
  readonly container_name?: string
  readonly working_dir?: string
  readonly restart?: string
}
interface ComposeFile {
  readonly version?: string
  readonly services: Readonly<Record<string, ComposeService>>
  readonly volumes?: Readonly<Record<string, unknown>>
}

// Merge keys (`<<: *switchyard`) are YAML 1.1, which docker-compose reads.
const compose = parse(readRepoFile("docker-compose.yml"), { merge: true }) as ComposeFile

const service = (name: string): ComposeService => {
  const found = compose.services[name]
  if (found === undefined) throw new Error(`docker-compose.yml: services.${name} is missing`)
  return found
}

const environmentOf = (entry: ComposeService): Readonly<Record<string, string>> => {
  const environment = entry.environment ?? {}
  if (Array.isArray(environment)) {
    return Object.fromEntries(
      environment.map((line: string) => {
        const at = line.indexOf("=")
        return at < 0 ? [line, ""] : [line.slice(0, at), line.slice(at + 1)]
      })
    )
  }
  return Object.fromEntries(Object.entries(environment).map(([key, value]) => [key, String(value ?? "")]))
}

/** A service's volume entries as `{ source, target, readOnly }` (short syntax). */
const volumesOf = (entry: ComposeService) =>
  (entry.volumes ?? []).map((volume) => {
    const [source = "", target = "", mode = ""] = volume.split(":")
    return { source, target, readOnly: mode.split(",").includes("ro") }
  })

/** Where a path inside a container comes from on the host: the bind mount holding it, resolved from the repository root. */
const hostPathOf = (entry: ComposeService, containerPath: string): string | undefined => {
  const mount = volumesOf(entry)
    .filter((volume) => volume.source.startsWith(".") && (containerPath === volume.target || containerPath.startsWith(`${volume.target}/`)))
    .sort((a, b) => b.target.length - a.target.length)[0]
  return mount === undefined ? undefined : resolve(repoRoot, mount.source, posix.relative(mount.target, containerPath))
}

/** The condition a service waits for before starting after `dependency`, if it depends on it. */
const conditionOf = (entry: ComposeService, dependency: string): string | undefined => {
  const dependencies = entry.depends_on ?? {}
  if (Array.isArray(dependencies)) return dependencies.includes(dependency) ? "service_started" : undefined
  return (dependencies as Readonly<Record<string, { readonly condition?: string }>>)[dependency]?.condition
}

const httpPortOf = (name: string): number => {
  const port = Number(environmentOf(service(name)).SWITCHYARD_HTTP_PORT)
  if (!Number.isInteger(port) || port <= 0)
    throw new Error(`docker-compose.yml: services.${name}.environment.SWITCHYARD_HTTP_PORT is not a port`)
  return port
}

describe("docker-compose.yml", () => {
  it("is valid for Debian's docker-compose", () => {
    const result = run(dockerCompose(), ["-f", "docker-compose.yml", "config", "-q"], repoRoot)
    expect(result.output).toBe("")
    expect(result.status).toBe(0)
  })

  it.each([
    {
      problem: "an option compose does not know",
      change: (file: { services: Record<string, Record<string, unknown>> }) => {
        file.services.registry!.restart_policy = "always"
      },
      named: ["registry", "restart_policy"]
    },
    {
      problem: "a dependency on a service that does not exist",
      change: (file: { services: Record<string, Record<string, unknown>> }) => {
        file.services.scheduler!.depends_on = { "nats-server": { condition: "service_started" } }
      },
      named: ["scheduler", "nats-server"]
    }
  ])("is refused by docker-compose with $problem, which it names", async ({ change, named }) => {
    const dir = await scratchDir("switchyard-compose-")
    const broken = parse(readRepoFile("docker-compose.yml"), { merge: true }) as { services: Record<string, Record<string, unknown>> }
    change(broken)
    await writeFile(join(dir, "docker-compose.yml"), stringify(broken))
    const result = run(dockerCompose(), ["-f", "docker-compose.yml", "config", "-q"], dir)
    expect(result.status).not.toBe(0)
    for (const name of named) expect(result.output).toContain(name)
  })

  it("runs NATS, the collector, Jaeger, Prometheus, Grafana and the four Switchyard services", () => {
    expect(Object.keys(compose.services).sort()).toEqual([...allServices].sort())
  })

  it.each(switchyardServices)(
    "runs %s from the one image, with its NATS URL, OTLP endpoint, HTTP port and a /readyz health check",
    (name) => {
      const entry = service(name)
      const environment = environmentOf(entry)
      expect(entry.image).toBe("switchyard:local")
      expect(entry.build?.dockerfile).toBe("deploy/Dockerfile")
      expect(entry.restart).toBe("unless-stopped")
      expect(environment.SWITCHYARD_NATS_URL).toBe("nats://nats:4222")
      expect(environment.OTEL_EXPORTER_OTLP_ENDPOINT).toBe("http://otel-collector:4318")
      expect(environment.OTEL_EXPORTER_OTLP_PROTOCOL).toBe("http/protobuf")
      expect(environment.OTEL_SERVICE_NAME).toBe(`switchyard-${name}`)
      expect(httpPortOf(name)).toBe(9464)
      const check = [entry.healthcheck?.test ?? []].flat().join(" ")
      expect(check).toContain("/readyz")
      expect(check).toContain("SWITCHYARD_HTTP_PORT")
      const command = [entry.command ?? []].flat()
      expect(command[0]).toBe(name.startsWith("executor") ? "executor" : name)
      expect(conditionOf(entry, "nats")).toBe("service_started")
    }
  )

  it.each(executors)("lets %s scale: no container name, no published port, the registry up first", (name) => {
    const entry = service(name)
    expect(entry.container_name).toBeUndefined()
    expect(entry.ports ?? []).toEqual([])
    expect(conditionOf(entry, "registry")).toBe("service_healthy")
  })

  it.each(executors)("gives %s its secrets as files in a read-only folder, never as environment variables", (name) => {
    const entry = service(name)
    const folder = environmentOf(entry).SWITCHYARD_SECRETS_DIR
    expect(folder, `services.${name}.environment.SWITCHYARD_SECRETS_DIR`).toBeDefined()
    const mount = volumesOf(entry).find((volume) => volume.target === folder)
    expect(mount, `services.${name}.volumes: a mount at ${folder}`).toEqual({ source: "./deploy/secrets", target: folder, readOnly: true })
    expect(existsSync(repoFile("deploy/secrets/.gitkeep"))).toBe(true)
  })

  it("names no secret in any service's environment", () => {
    const secretLooking = /SECRET|TOKEN|PASSWORD|PASSWD|API_KEY|CREDENTIAL/i
    // The folder the executors read their secrets from is a path, not a secret.
    const allowed = new Set(["SWITCHYARD_SECRETS_DIR"])
    const offending = Object.entries(compose.services).flatMap(([name, entry]) =>
      Object.keys(environmentOf(entry))
        .filter((key) => secretLooking.test(key) && !allowed.has(key))
        .map((key) => `services.${name}.environment.${key}`)
    )
    expect(offending).toEqual([])
  })

  it("runs the process executor in a project whose plugins folder holds the example plugins, mounted read-only", () => {
    const entry = service("executor-process")
    expect(entry.working_dir).toBeDefined()
    const pluginsInContainer = posix.join(entry.working_dir!, "plugins")
    const mount = volumesOf(entry).find((volume) => pluginsInContainer.startsWith(`${volume.target}/`))
    expect(mount?.readOnly).toBe(true)
    const plugins = hostPathOf(entry, pluginsInContainer)
    expect(plugins).toBeDefined()
    const manifests = readdirSync(plugins!).filter((name) => existsSync(join(plugins!, name, "plugin.yaml")))
    expect(manifests).toContain("hello-process")
  })

  it("keeps NATS's JetStream store on a named volume, written to disk at every acknowledgement", () => {
    const nats = service("nats")
    const command = [nats.command ?? []].flat()
    const configPath = command[command.indexOf("--config") + 1]
    expect(configPath, "services.nats.command: --config <path>").toBeDefined()
    expect(hostPathOf(nats, configPath!)).toBe(repoFile("deploy/nats/nats.conf"))

    const config = readRepoFile("deploy/nats/nats.conf")
      .split("\n")
      .map((line) => line.replace(/#.*$/, ""))
      .join("\n")
    const jetstream = /jetstream\s*\{([^}]*)\}/.exec(config)?.[1]
    expect(jetstream, "deploy/nats/nats.conf: a jetstream { ... } block").toBeDefined()
    expect(jetstream).toMatch(/^\s*sync_interval\s*:\s*always\s*$/m)
    const storeDir = /^\s*store_dir\s*:\s*"?([^"\s]+)"?\s*$/m.exec(jetstream!)?.[1]
    expect(storeDir, "deploy/nats/nats.conf: jetstream.store_dir").toBeDefined()
    const store = volumesOf(nats).find((volume) => volume.target === storeDir)
    expect(store, `services.nats.volumes: a volume at ${storeDir}`).toBeDefined()
    expect(Object.keys(compose.volumes ?? {})).toContain(store!.source)
  })
})

describe("the Prometheus configuration", () => {
  interface ScrapeConfig {
    readonly job_name: string
    readonly static_configs?: ReadonlyArray<{ readonly targets: ReadonlyArray<string> }>
    readonly dns_sd_configs?: ReadonlyArray<{ readonly names: ReadonlyArray<string>; readonly type?: string; readonly port?: number }>
  }
  const prometheus = parse(readRepoFile("deploy/prometheus/prometheus.yml")) as { readonly scrape_configs: ReadonlyArray<ScrapeConfig> }

  /** Every `host:port` Prometheus scrapes, static or found by DNS. */
  const targets = prometheus.scrape_configs.flatMap((job) => [
    ...(job.static_configs ?? []).flatMap((group) => group.targets),
    ...(job.dns_sd_configs ?? []).flatMap((sd) => sd.names.map((name) => `${name}:${sd.port}`))
  ])

  it("is valid for promtool", () => {
    const result = run(promtool(), ["check", "config", "deploy/prometheus/prometheus.yml"], repoRoot)
    expect(result.output).toContain("SUCCESS")
    expect(result.status).toBe(0)
  })

  it.each(switchyardServices)("scrapes %s on the HTTP port compose gives it", (name) => {
    expect(targets).toContain(`${name}:${httpPortOf(name)}`)
  })

  it.each(executors)("finds every replica of %s by DNS", (name) => {
    const job = prometheus.scrape_configs.find((config) => config.dns_sd_configs?.some((sd) => sd.names.includes(name)))
    expect(job?.dns_sd_configs?.[0]?.type).toBe("A")
  })

  it("scrapes the collector's Prometheus endpoint, where its pipeline exports metrics", () => {
    const collector = parse(readRepoFile("deploy/otel-collector/config.yaml")) as {
      readonly exporters: Readonly<Record<string, { readonly endpoint?: string }>>
      readonly service: { readonly pipelines: Readonly<Record<string, { readonly exporters: ReadonlyArray<string> }>> }
    }
    const endpoint = collector.exporters.prometheus?.endpoint
    expect(endpoint).toBeDefined()
    expect(targets).toContain(`otel-collector:${endpoint!.split(":").at(-1)}`)
    expect(collector.service.pipelines.metrics?.exporters).toContain("prometheus")
  })
})

describe("the OpenTelemetry Collector configuration", () => {
  interface Pipeline {
    readonly receivers: ReadonlyArray<string>
    readonly processors?: ReadonlyArray<string>
    readonly exporters: ReadonlyArray<string>
  }
  const collector = parse(readRepoFile("deploy/otel-collector/config.yaml")) as {
    readonly receivers: Readonly<Record<string, { readonly protocols?: Readonly<Record<string, { readonly endpoint?: string }>> }>>
    readonly processors?: Readonly<Record<string, unknown>>
    readonly exporters: Readonly<Record<string, { readonly endpoint?: string }>>
    readonly service: { readonly pipelines: Readonly<Record<string, Pipeline>> }
  }

  it("receives OTLP on the port the services send to, from other containers", () => {
    const port = new URL(environmentOf(service("registry")).OTEL_EXPORTER_OTLP_ENDPOINT!).port
    expect(collector.receivers.otlp?.protocols?.http?.endpoint).toBe(`0.0.0.0:${port}`)
    expect(collector.receivers.otlp?.protocols?.grpc?.endpoint).toBe("0.0.0.0:4317")
  })

  it("sends traces to Jaeger over OTLP, and every pipeline names components it defines", () => {
    const traces = collector.service.pipelines.traces
    const toJaeger = traces?.exporters.find((name) => collector.exporters[name]?.endpoint === "jaeger:4317")
    expect(toJaeger, "service.pipelines.traces: an exporter to jaeger:4317").toBeDefined()
    for (const [name, pipeline] of Object.entries(collector.service.pipelines)) {
      for (const receiver of pipeline.receivers) expect(collector.receivers, `pipelines.${name}.receivers`).toHaveProperty([receiver])
      for (const processor of pipeline.processors ?? [])
        expect(collector.processors, `pipelines.${name}.processors`).toHaveProperty([processor])
      for (const exporter of pipeline.exporters) expect(collector.exporters, `pipelines.${name}.exporters`).toHaveProperty([exporter])
    }
  })
})

describe("the Grafana dashboard", () => {
  interface Target {
    readonly expr?: string
    readonly datasource?: { readonly uid?: string }
  }
  interface Panel {
    readonly id: number
    readonly type: string
    readonly title: string
    readonly datasource?: { readonly uid?: string }
    readonly targets?: ReadonlyArray<Target>
    readonly panels?: ReadonlyArray<Panel>
  }
  interface Dashboard {
    readonly uid: string
    readonly title: string
    readonly schemaVersion: number
    readonly panels: ReadonlyArray<Panel>
    readonly templating?: {
      readonly list: ReadonlyArray<{ readonly name: string; readonly datasource?: { readonly uid?: string }; readonly definition?: string }>
    }
  }
  const dashboard = JSON.parse(readRepoFile("deploy/grafana/dashboards/switchyard.json")) as Dashboard
  const panels = dashboard.panels.flatMap((panel) => [panel, ...(panel.panels ?? [])])
  const queryPanels = panels.filter((panel) => panel.type !== "row")
  const expressions = [
    ...queryPanels.flatMap((panel) =>
      (panel.targets ?? []).map((target) => ({ where: `panel "${panel.title}"`, expr: target.expr ?? "" }))
    ),
    ...(dashboard.templating?.list ?? []).map((variable) => ({ where: `variable $${variable.name}`, expr: variable.definition ?? "" }))
  ]
  const namesIn = (expr: string) => expr.match(/switchyard_[a-z_]+/g) ?? []

  it("is the Switchyard dashboard", () => {
    expect(dashboard.uid).toBe("switchyard")
    expect(dashboard.title).toBe("Switchyard")
    expect(dashboard.schemaVersion).toBeGreaterThanOrEqual(36)
    expect(new Set(panels.map((panel) => panel.id)).size).toBe(panels.length)
  })

  it("queries only the metrics and labels the services expose, and at least one metric in every query", () => {
    const unknown = expressions.flatMap(({ where, expr }) =>
      namesIn(expr)
        .filter((name) => !seriesToMetric.has(name) && !labelNames.has(name))
        .map((name) => `${where}: ${name}`)
    )
    expect(unknown).toEqual([])
    const withoutMetric = expressions.filter(({ expr }) => !namesIn(expr).some((name) => seriesToMetric.has(name)))
    expect(withoutMetric).toEqual([])
    expect(queryPanels.every((panel) => (panel.targets ?? []).length > 0)).toBe(true)
  })

  it("shows every metric the services expose on some panel", () => {
    const shown = new Set(expressions.flatMap(({ expr }) => namesIn(expr).flatMap((name) => seriesToMetric.get(name) ?? [])))
    expect(Object.keys(metrics).filter((name) => !shown.has(name))).toEqual([])
  })

  it("has PromQL that promtool parses", async () => {
    // Each query as a recording rule, Grafana's variables replaced by values Prometheus accepts.
    const rules = expressions.map(({ expr }, index) => ({
      record: `switchyard:dashboard_query_${index}`,
      expr: expr
        .replaceAll("$__rate_interval", "1m")
        .replaceAll("$__range", "1h")
        .replaceAll("$pool", ".*")
        .replace(/^label_values\((\w+),\s*\w+\)$/, "$1")
    }))
    const dir = await scratchDir("switchyard-dashboard-")
    const file = join(dir, "dashboard-rules.yml")
    await writeFile(file, stringify({ groups: [{ name: "dashboard", rules }] }))
    const result = run(promtool(), ["check", "rules", file], dir)
    expect(result.output).toContain(`SUCCESS: ${rules.length} rules found`)
    expect(result.status).toBe(0)
  })

  it("uses only data sources Grafana is provisioned with", () => {
    const provisioned = parse(readRepoFile("deploy/grafana/provisioning/datasources/datasources.yaml")) as {
      readonly datasources: ReadonlyArray<{
        readonly uid: string
        readonly type: string
        readonly url: string
        readonly isDefault?: boolean
      }>
    }
    const uids = new Set(provisioned.datasources.map((source) => source.uid))
    const used = [
      ...queryPanels.flatMap((panel) => [panel.datasource?.uid, ...(panel.targets ?? []).map((target) => target.datasource?.uid)]),
      ...(dashboard.templating?.list ?? []).map((variable) => variable.datasource?.uid)
    ].filter((uid) => uid !== undefined)
    expect(used.length).toBeGreaterThan(0)
    expect(used.filter((uid) => !uids.has(uid))).toEqual([])
    const prometheus = provisioned.datasources.find((source) => source.type === "prometheus")
    expect(prometheus).toMatchObject({ url: "http://prometheus:9090", isDefault: true })
    expect(provisioned.datasources.find((source) => source.type === "jaeger")?.url).toBe("http://jaeger:16686")
  })

  it("is loaded from the folder compose mounts the dashboards in", () => {
    const providers = parse(readRepoFile("deploy/grafana/provisioning/dashboards/dashboards.yaml")) as {
      readonly providers: ReadonlyArray<{ readonly options: { readonly path: string } }>
    }
    const path = providers.providers[0]?.options.path
    expect(path).toBeDefined()
    expect(hostPathOf(service("grafana"), posix.join(path!, "switchyard.json"))).toBe(repoFile("deploy/grafana/dashboards/switchyard.json"))
    expect(hostPathOf(service("grafana"), "/etc/grafana/provisioning")).toBe(repoFile("deploy/grafana/provisioning"))
  })
})

describe("the Dockerfile", () => {
  const dockerfile = readRepoFile("deploy/Dockerfile")
  // Instructions, with continuation lines joined and comments dropped.
  const instructions = dockerfile
    .replace(/\\\n/g, " ")
    .split("\n")
    .map((line) => line.trim())
    .filter((line) => line !== "" && !line.startsWith("#"))
  const stages = instructions.reduce<Array<Array<string>>>((all, line) => {
    if (/^FROM\s/i.test(line)) all.push([line])
    else all.at(-1)?.push(line)
    return all
  }, [])
  const runtime = stages.at(-1) ?? []
  const instruction = (stage: ReadonlyArray<string>, name: string) => stage.filter((line) => line.toUpperCase().startsWith(`${name} `))

  it("builds in one stage and runs from another, which copies only from the build", () => {
    expect(stages.length).toBeGreaterThanOrEqual(2)
    const build = stages[0]!.join("\n")
    expect(build).toContain("npm ci")
    expect(build).toContain("npm run build")
    expect(build).toContain("npm prune --omit=dev")
    expect(instruction(runtime, "COPY").every((line) => line.includes("--from="))).toBe(true)
  })

  it("runs as a user that is not root", () => {
    const users = instruction(runtime, "USER")
    expect(users.length).toBeGreaterThan(0)
    const user = users.at(-1)!.slice("USER ".length).trim().split(":")[0]
    expect(["root", "0"]).not.toContain(user)
    expect(user).toBe("10001")
  })

  it("starts services/bin/switchyard.js, which runs the built JavaScript", () => {
    const entrypoint = instruction(runtime, "ENTRYPOINT").at(-1)
    expect(entrypoint).toBeDefined()
    const command = JSON.parse(entrypoint!.slice("ENTRYPOINT ".length)) as ReadonlyArray<string>
    expect(command[0]).toBe("node")
    expect(command.at(-1)).toMatch(/(^|\/)services\/bin\/switchyard\.js$/)
    expect(command.join(" ")).not.toContain("@switchyard/source")
    expect(runtime.join("\n")).not.toContain("@switchyard/source")
    expect(readRepoFile("services/bin/switchyard.js")).toContain("../dist/cli/main.js")
  })

  it("serves its health check and metrics on the port compose and Prometheus use", () => {
    expect(runtime).toContain("EXPOSE 9464")
    expect(runtime.join("\n")).toMatch(/SWITCHYARD_HTTP_PORT=9464/)
    expect(instruction(runtime, "HEALTHCHECK").join(" ")).toContain("/readyz")
  })

  it("takes into the runtime stage everything each workspace's exports point at", () => {
    // The runtime stage copies each workspace's package.json and its `files`; every default export must be among them.
    const root = JSON.parse(readRepoFile("package.json")) as { readonly workspaces: ReadonlyArray<string> }
    const missing = root.workspaces.flatMap((workspace) => {
      const manifest = JSON.parse(readRepoFile(`${workspace}/package.json`)) as {
        readonly files?: ReadonlyArray<string>
        readonly exports?: Readonly<Record<string, unknown>>
        readonly bin?: Readonly<Record<string, string>>
      }
      const published = (manifest.files ?? []).filter((entry) => !entry.startsWith("!"))
      const targets = [
        ...Object.values(manifest.exports ?? {}).flatMap((target) =>
          typeof target === "string"
            ? [target]
            : target !== null && typeof target === "object"
              ? [(target as { default?: string }).default ?? []].flat()
              : []
        ),
        ...Object.values(manifest.bin ?? {})
      ].filter((target) => target !== "./package.json")
      return targets
        .filter((target) => !published.includes(posix.normalize(target).split("/")[0]!))
        .map((target) => `${workspace}: ${target}`)
    })
    expect(missing).toEqual([])
  })

  it("leaves installed and built files out of the build context", () => {
    const ignored = readRepoFile(".dockerignore")
      .split("\n")
      .map((line) => line.trim())
      .filter((line) => line !== "" && !line.startsWith("#"))
    expect(ignored).toEqual(expect.arrayContaining(["**/node_modules", "**/dist", ".git"]))
    const copied = instruction(stages[0]!, "COPY").flatMap((line) => line.split(/\s+/).slice(1, -1))
    expect(copied.filter((source) => ignored.includes(source.replace(/\/$/, "")))).toEqual([])
  })
})
