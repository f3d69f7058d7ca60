/**
 * Behaviour of the registry service over a bus, run once per adapter (the
 * memory bus in unit tests, a real nats-server in integration tests): stage
 * validation with field paths, ownership and versions, persistence across a
 * restart, pool liveness, suggestions, malformed input and the audit trail.
 * Every test gets its own prefix, so subjects, buckets and streams never
 * overlap, and talks to the registry the way other services do: through
 * `RegistryClient` or raw bus requests.
 */
import { EndpointErrorType } from "../../../schemas/Endpoint.ts"
import { StageList } from "../../../schemas/Endpoints.ts"
import { assert, describe, it } from "@effect/vitest"
import { Context, Effect, Exit, Layer, Logger, References, Scope, Stream } from "effect"
import { WireType } from "../../../schemas/Catalog.ts"
import { Heartbeat, StageRegistration } from "../../../schemas/Registry.ts"
import { Bus } from "../../../services/bus/Bus.ts"
import { decode, encode, encodeJson, MalformedMessageError, TypeHeader } from "../../../schemas/Codec.ts"
import { makeNames, type Names, Subjects } from "../../../schemas/Subjects.ts"
import {
  AuditEntry,
  AuditEntryType,
  Registry,
  RegistryClient,
  RegistryConfig,
  ServiceUnavailableError
} from "../../../services/registry/index.ts"
import { collect } from "../../support/collect.ts"
import { eventually } from "../../support/eventually.ts"
import { uniquePrefix } from "../../support/unique.ts"

/** One captured log line. */
interface LogLine {
  readonly level: string
  readonly message: unknown
  readonly annotations: Readonly<Record<string, unknown>>
}

/** What a test gets. */
interface Env {
  readonly names: Names
  readonly logs: ReadonlyArray<LogLine>
  /** Starts a registry replica; it stops when the test ends or when `stop` runs. */
  readonly startRegistry: (
    config?: Parameters<typeof RegistryConfig.layerWith>[0]
  ) => Effect.Effect<{ readonly registry: Registry["Service"]; readonly stop: Effect.Effect<void> }, unknown, Bus | Scope.Scope>
}

type Requirements = Bus | RegistryClient | Scope.Scope

/** A valid stage's metadata, as an executor would send it. */
export const stage = (type: string, overrides: Readonly<Record<string, unknown>> = {}): Record<string, unknown> => ({
  type,
  version: "1.0.0",
  description: `the ${type} stage`,
  plugin: "core",
  stateKey: "docs",
  output: "set",
  count: "one",
  dependencies: [],
  runtime: "inline",
  timeoutMs: 1000,
  ...overrides
})

/** A registration of `stages` from one replica of a pool. */
export const registration = (
  stages: ReadonlyArray<unknown>,
  options: { readonly pool?: string; readonly executorId?: string; readonly runtime?: "inline" | "process" | "docker" } = {}
): StageRegistration =>
  new StageRegistration({
    version: 1,
    pool: options.pool ?? "main",
    executorId: options.executorId ?? "replica-1",
    runtime: options.runtime ?? "inline",
    stages
  })

const encoder = new TextEncoder()

/** Collects the audit entries of `service` (the registry unless told) from the audit stream. */
export const readAudit = (names: Names, service = "registry") =>
  Effect.gen(function* () {
    const bus = yield* Bus
    const durable = uniquePrefix("audit")
    yield* bus.ensureConsumer({
      stream: names.streams.audit,
      durable,
      filterSubject: names.audit(service),
      ackWait: "30 seconds",
      maxDeliver: 1,
      maxAckPending: 1000
    })
    const jobs = yield* bus.consume({ stream: names.streams.audit, durable, slots: 1000 })
    return yield* collect(
      "audit entries",
      jobs.pipe(Stream.mapEffect((job) => job.ack.pipe(Effect.andThen(decode(AuditEntry, AuditEntryType)(job)))))
    )
  })

/** Waits for an audit entry matching `predicate`. */
export const auditEntry = (
  audit: { readonly items: Effect.Effect<ReadonlyArray<AuditEntry>> },
  label: string,
  predicate: (entry: AuditEntry) => boolean
) =>
  eventually(
    `audit entry: ${label}`,
    audit.items.pipe(
      Effect.flatMap((entries) => {
        const found = entries.find(predicate)
        return found === undefined
          ? Effect.fail(`${entries.length} entries: ${entries.map((entry) => `${entry.event}:${entry.stage ?? entry.pool}`).join(", ")}`)
          : Effect.succeed(found)
      })
    )
  )

/** The union an error reply of a registry endpoint carries. */
const EndpointErrorReply = StageList.error

/** Sends raw bytes as a request and returns the registry's error reply. */
const errorReplyTo = (subject: string, body: Uint8Array, headers: Readonly<Record<string, string>> = {}) =>
  Effect.gen(function* () {
    const bus = yield* Bus
    const reply = yield* bus.request(subject, body, { timeout: "5 seconds", headers })
    assert.strictEqual(reply.headers[TypeHeader], EndpointErrorType)
    const error = yield* decode(EndpointErrorReply, EndpointErrorType)({ ...reply, subject })
    assert.instanceOf(error, MalformedMessageError)
    return error as MalformedMessageError
  })

/** Runs the registry suite over the bus built by `makeBus` (a fresh one per test). */
export const registrySuite = (name: string, makeBus: () => Layer.Layer<Bus, unknown>): void => {
  const test = (title: string, body: (env: Env) => Effect.Effect<void, unknown, Requirements>) =>
    it.live(title, () =>
      Effect.gen(function* () {
        const names = makeNames(uniquePrefix("reg"))
        const logs: Array<LogLine> = []
        const capture = Logger.make<unknown, void>((options) => {
          logs.push({
            level: options.logLevel,
            message: options.message,
            annotations: options.fiber.getRef(References.CurrentLogAnnotations)
          })
        })
        const startRegistry: Env["startRegistry"] = (config = {}) =>
          Effect.gen(function* () {
            const scope = yield* Effect.acquireRelease(Scope.make(), (scope) => Scope.close(scope, Exit.void))
            const context = yield* Layer.buildWithScope(Registry.layer.pipe(Layer.provide(RegistryConfig.layerWith(config))), scope)
            return { registry: Context.get(context, Registry), stop: Scope.close(scope, Exit.void) }
          })
        yield* body({ names, logs, startRegistry }).pipe(
          Effect.provide(RegistryClient.layerWith({ timeout: "5 seconds" })),
          Effect.provideService(Subjects, names),
          Effect.provide(Logger.layer([capture]))
        )
        // Nothing in these scenarios is a failure of the registry itself.
        const errors = logs.filter((line) => line.level === "Error" || line.level === "Fatal")
        assert.deepStrictEqual(
          errors.map((line) => `${String(line.message)} ${JSON.stringify(line.annotations)}`),
          []
        )
      }).pipe(Effect.provide(makeBus()))
    )

  describe(`registry over the ${name} bus`, () => {
    test("accepts valid stages and lists them with the pool that serves them", ({ startRegistry }) =>
      Effect.gen(function* () {
        yield* startRegistry()
        const client = yield* RegistryClient
        const reply = yield* client.register(
          registration(
            [
              stage("ingest"),
              stage("extract", {
                stateKey: ["entities", "claims"],
                output: "unpack",
                count: "length(entities) + length(claims)",
                dependencies: ["ingest"]
              }),
              stage("approve", { stateKey: null, output: "none", count: "none", dependencies: ["extract"] })
            ],
            { pool: "nlp" }
          )
        )
        assert.deepStrictEqual(
          reply.decisions.map((d) => [d.type, d.accepted]),
          [
            ["ingest", true],
            ["extract", true],
            ["approve", true]
          ]
        )
        const listed = yield* client.list()
        assert.deepStrictEqual(
          listed.stages.map((s) => [s.metadata.type, s.pool, s.online]),
          [
            ["approve", "nlp", true],
            ["extract", "nlp", true],
            ["ingest", "nlp", true]
          ]
        )
        assert.deepStrictEqual(listed.stages[1]!.metadata.stateKey, ["entities", "claims"])
      }))

    test("rejects each kind of invalid metadata with the field path, what was expected and what was found", ({ startRegistry }) =>
      Effect.gen(function* () {
        yield* startRegistry()
        const client = yield* RegistryClient
        // [metadata, expected rejection path (none: accepted), fragments of the message]
        const cases: ReadonlyArray<readonly [unknown, string | undefined, ReadonlyArray<string>]> = [
          [stage("ingest"), undefined, []],
          [stage("extract"), undefined, []],
          [stage("a", { stateKey: "1bad" }), "stages[2].stateKey", ["identifier", `found "1bad"`]],
          [stage("b", { stateKey: ["ok", "no-way"], output: "unpack" }), "stages[3].stateKey[1]", ["identifier", `found "no-way"`]],
          [stage("c", { output: "replace" }), "stages[4].output", [`"set"`, `"unpack"`, `found "replace"`]],
          [stage("d", { count: "lots" }), "stages[5].count", ["length(path)", `found "lots"`]],
          [stage("e", { version: "1.0" }), "stages[6].version", ["semantic version", `found "1.0"`]],
          [stage("f", { output: "unpack", stateKey: "docs" }), "stages[7].stateKey", ["list of state keys", `found "docs"`]],
          [stage("g", { output: "none", stateKey: "docs" }), "stages[8].stateKey", ["expected null", `found "docs"`]],
          [stage("h", { output: "append", stateKey: null }), "stages[9].stateKey", ["expected a state key", "found null"]],
          [(({ plugin: _, ...rest }) => rest)(stage("i")), "stages[10].plugin", ["Missing key"]],
          [
            stage("j", { dependencies: ["ingest", "extrakt"] }),
            "stages[11].dependencies[1]",
            ["registered stage type", `found "extrakt"`, `did you mean "extract"`]
          ],
          [stage("k", { runtime: "docker" }), "stages[12].runtime", [`expected "inline"`, `found "docker"`]],
          ["not a stage", "stages[13]", ["Expected object", `found "not a stage"`]],
          [stage("ingest"), "stages[14].type", ["once per registration", "first at stages[0]"]],
          [stage("l", { dependencies: ["m"] }), "stages[15].dependencies[0]", ["cycle", "l → m → l"]],
          [stage("m", { dependencies: ["l"] }), "stages[16].dependencies[0]", ["cycle", "m → l → m"]],
          [stage("n", { timeoutMs: 0 }), "stages[17].timeoutMs", ["greater than 0", "found 0"]],
          [stage("Bad Name"), "stages[18].type", ["stage type such as", `found "Bad Name"`]],
          [stage("o", { dependencies: ["o"] }), "stages[19].dependencies[0]", ["cannot depend on itself"]]
        ]
        const reply = yield* client.register(registration(cases.map(([metadata]) => metadata)))
        assert.strictEqual(reply.decisions.length, cases.length)
        for (const [index, [, path, fragments]] of cases.entries()) {
          const decision = reply.decisions[index]!
          if (path === undefined) {
            assert.isTrue(decision.accepted, `stages[${index}] should be accepted: ${JSON.stringify(decision.rejection)}`)
            continue
          }
          assert.isFalse(decision.accepted, `stages[${index}] should be rejected`)
          const rejection = decision.rejection!
          assert.deepStrictEqual([rejection.code, rejection.path], ["invalid-metadata", path], rejection.message)
          for (const fragment of fragments) {
            assert.include(rejection.message, fragment, `${path}: ${rejection.message}`)
          }
        }
        const listed = yield* client.list()
        assert.deepStrictEqual(
          listed.stages.map((s) => s.metadata.type),
          ["extract", "ingest"]
        )
      }))

    test("rejects every stage of a registration whose pool name cannot be a subject token", ({ startRegistry }) =>
      Effect.gen(function* () {
        yield* startRegistry()
        const client = yield* RegistryClient
        const reply = yield* client.register(registration([stage("ingest"), stage("extract")], { pool: "nlp.gpu" }))
        assert.deepStrictEqual(
          reply.decisions.map((d) => [d.accepted, d.rejection?.path]),
          [
            [false, "pool"],
            [false, "pool"]
          ]
        )
        assert.include(reply.decisions[0]!.rejection!.message, `found "nlp.gpu"`)
      }))

    test("accepts dependencies on stage types registered earlier by any plugin", ({ startRegistry }) =>
      Effect.gen(function* () {
        yield* startRegistry()
        const client = yield* RegistryClient
        yield* client.register(registration([stage("ingest")], { pool: "io" }))
        const reply = yield* client.register(
          registration([stage("acme/summarize", { plugin: "acme", dependencies: ["ingest"] })], { pool: "acme" })
        )
        assert.isTrue(reply.decisions[0]!.accepted, JSON.stringify(reply.decisions[0]))
      }))

    test("refuses a stage type owned by another plugin and names both plugins", ({ startRegistry }) =>
      Effect.gen(function* () {
        yield* startRegistry()
        const client = yield* RegistryClient
        yield* client.register(registration([stage("http.get", { plugin: "builtin-http" })]))
        const reply = yield* client.register(registration([stage("http.get", { plugin: "acme-http", version: "9.0.0" })], { pool: "acme" }))
        const rejection = reply.decisions[0]!.rejection!
        assert.strictEqual(rejection.code, "conflict")
        assert.strictEqual(rejection.path, "stages[0].plugin")
        assert.include(rejection.message, `"builtin-http"`)
        assert.include(rejection.message, `"acme-http"`)
        const listed = yield* client.list()
        assert.deepStrictEqual(
          listed.stages.map((s) => [s.metadata.plugin, s.metadata.version, s.pool]),
          [["builtin-http", "1.0.0", "main"]]
        )
      }))

    test("replaces a stage type when its plugin registers a newer version", ({ names, startRegistry }) =>
      Effect.gen(function* () {
        yield* startRegistry()
        const client = yield* RegistryClient
        const audit = yield* readAudit(names)
        yield* client.register(registration([stage("ingest", { version: "1.2.0" })]))
        const reply = yield* client.register(
          registration([stage("ingest", { version: "1.10.0", description: "faster" })], { pool: "io-v2" })
        )
        assert.isTrue(reply.decisions[0]!.accepted)
        const listed = yield* client.list()
        assert.deepStrictEqual(
          listed.stages.map((s) => [s.metadata.version, s.metadata.description, s.pool]),
          [["1.10.0", "faster", "io-v2"]]
        )
        const replaced = yield* auditEntry(audit, "ingest replaced", (e) => e.event === "replaced" && e.stage === "ingest")
        assert.deepStrictEqual([replaced.stageVersion, replaced.previous?.version, replaced.previous?.pool], ["1.10.0", "1.2.0", "main"])
      }))

    test("refuses an older version of a registered stage type and keeps the newer one", ({ startRegistry }) =>
      Effect.gen(function* () {
        yield* startRegistry()
        const client = yield* RegistryClient
        yield* client.register(registration([stage("ingest", { version: "2.0.0" })]))
        const reply = yield* client.register(registration([stage("ingest", { version: "2.0.0-rc.1" })]))
        const rejection = reply.decisions[0]!.rejection!
        assert.strictEqual(rejection.code, "older-version")
        assert.strictEqual(rejection.path, "stages[0].version")
        assert.include(rejection.message, "2.0.0 or newer")
        assert.include(rejection.message, "found 2.0.0-rc.1")
        const listed = yield* client.list()
        assert.deepStrictEqual(
          listed.stages.map((s) => s.metadata.version),
          ["2.0.0"]
        )
      }))

    test("accepts the same version again from another replica of the same pool without changing the record", ({ startRegistry }) =>
      Effect.gen(function* () {
        yield* startRegistry()
        const client = yield* RegistryClient
        yield* client.register(registration([stage("ingest")], { executorId: "replica-1" }))
        const before = yield* client.list()
        const reply = yield* client.register(registration([stage("ingest")], { executorId: "replica-2" }))
        assert.isTrue(reply.decisions[0]!.accepted)
        const after = yield* client.list()
        assert.deepStrictEqual(after.stages, before.stages)
      }))

    test("refuses the same version from a second pool while the first pool is online", ({ startRegistry }) =>
      Effect.gen(function* () {
        yield* startRegistry()
        const client = yield* RegistryClient
        yield* client.register(registration([stage("ingest")], { pool: "first" }))
        const reply = yield* client.register(registration([stage("ingest")], { pool: "second" }))
        const rejection = reply.decisions[0]!.rejection!
        assert.strictEqual(rejection.code, "conflict")
        assert.include(rejection.message, `"first"`)
        assert.include(rejection.message, `"second"`)
      }))

    test("gives a contested stage type to exactly one plugin when two registry replicas race", ({ startRegistry }) =>
      Effect.gen(function* () {
        yield* startRegistry()
        yield* startRegistry()
        const client = yield* RegistryClient
        const replies = yield* Effect.all(
          ["alpha", "beta", "gamma", "delta"].map((plugin) =>
            client.register(registration([stage("contested", { plugin })], { pool: plugin }))
          ),
          { concurrency: "unbounded" }
        )
        const winners = replies.filter((reply) => reply.decisions[0]!.accepted)
        assert.strictEqual(winners.length, 1)
        const listed = yield* client.list()
        assert.strictEqual(listed.stages.length, 1)
        for (const reply of replies) {
          if (!reply.decisions[0]!.accepted) assert.strictEqual(reply.decisions[0]!.rejection!.code, "conflict")
        }
      }))

    test("keeps registrations across a registry restart", ({ startRegistry }) =>
      Effect.gen(function* () {
        const first = yield* startRegistry()
        const client = yield* RegistryClient
        yield* client.register(registration([stage("ingest"), stage("extract", { dependencies: ["ingest"] })]))
        yield* first.stop
        yield* startRegistry()
        const listed = yield* client.list()
        assert.deepStrictEqual(
          listed.stages.map((s) => [s.metadata.type, s.pool, s.online]),
          [
            ["extract", "main", true],
            ["ingest", "main", true]
          ]
        )
        // The restarted registry still enforces ownership from what it loaded.
        const reply = yield* client.register(registration([stage("ingest", { plugin: "other" })], { pool: "other" }))
        assert.strictEqual(reply.decisions[0]!.rejection?.code, "conflict")
      }))

    test("shows a registration made through one replica to resolve and list on another replica", ({ startRegistry }) =>
      Effect.gen(function* () {
        const first = yield* startRegistry()
        const second = yield* startRegistry()
        yield* first.registry.register(registration([stage("ingest")], { pool: "io" }))
        // Unknown to the second replica's copy a moment ago, so looked up in the bucket.
        const resolved = yield* second.registry.resolve(["ingest"])
        assert.deepStrictEqual(
          resolved.found.map((s) => [s.metadata.type, s.pool]),
          [["ingest", "io"]]
        )
        yield* eventually(
          "ingest listed by the second replica",
          second.registry.list().pipe(Effect.map((reply) => reply.stages.some((s) => s.metadata.type === "ingest")))
        )
        // A change to a type the second replica already knows reaches it only through the watch.
        yield* first.registry.register(registration([stage("ingest", { version: "1.1.0", description: "faster" })], { pool: "io" }))
        const changed = yield* eventually(
          "ingest 1.1.0 resolved by the second replica",
          second.registry.resolve(["ingest"]).pipe(
            Effect.flatMap((reply) => {
              const found = reply.found[0]
              return found?.metadata.version === "1.1.0"
                ? Effect.succeed(found)
                : Effect.fail(`found ${found?.metadata.version ?? "nothing"}`)
            })
          )
        )
        assert.deepStrictEqual([changed.metadata.description, changed.pool], ["faster", "io"])
        // Its ownership decisions use the bucket, so it refuses what the first replica would.
        const refused = yield* second.registry.register(registration([stage("ingest", { version: "1.0.0" })], { pool: "io" }))
        assert.strictEqual(refused.decisions[0]!.rejection?.code, "older-version")
      }))

    test("answers from the copy it loaded at startup after a restart, and follows later changes", ({ names, startRegistry }) =>
      Effect.gen(function* () {
        const first = yield* startRegistry()
        yield* first.registry.register(registration([stage("ingest"), stage("extract", { dependencies: ["ingest"] })], { pool: "nlp" }))
        yield* first.stop
        const restarted = yield* startRegistry()
        // No waiting: the layer is up only once both buckets are loaded.
        const listed = yield* restarted.registry.list()
        assert.deepStrictEqual(
          listed.stages.map((s) => [s.metadata.type, s.pool, s.online]),
          [
            ["extract", "nlp", true],
            ["ingest", "nlp", true]
          ]
        )
        const resolved = yield* restarted.registry.resolve(["extract", "ingest"])
        assert.deepStrictEqual(
          resolved.found.map((s) => s.metadata.dependencies),
          [["ingest"], []]
        )
        // A write by another replica after the load reaches the copy.
        const other = yield* startRegistry()
        yield* other.registry.register(registration([stage("summarize", { dependencies: ["extract"] })], { pool: "nlp" }))
        yield* eventually(
          "summarize listed by the restarted replica",
          restarted.registry
            .list()
            .pipe(Effect.map((reply) => reply.stages.map((s) => s.metadata.type).join(",") === "extract,ingest,summarize"))
        )
        const bus = yield* Bus
        const pools = yield* bus.kv(names.buckets.pools)
        assert.strictEqual((yield* pools.keys).length, 1)
      }))

    test("decodes an unreadable stored record once and leaves it out of every answer", ({ logs, names, startRegistry }) =>
      Effect.gen(function* () {
        const bus = yield* Bus
        const stages = yield* bus.kv(names.buckets.stages)
        yield* stages.put("broken", encoder.encode(JSON.stringify({ metadata: { type: "broken" } })))
        const { registry } = yield* startRegistry()
        yield* registry.register(registration([stage("ingest")]))
        for (let i = 0; i < 3; i++) {
          assert.deepStrictEqual(
            (yield* registry.list()).stages.map((s) => s.metadata.type),
            ["ingest"]
          )
          assert.deepStrictEqual((yield* registry.resolve(["ingest"])).found.length, 1)
        }
        const warnings = logs.filter(
          (line) => line.level === "Warn" && String(line.message).includes("unreadable record") && line.annotations["key"] === "broken"
        )
        assert.strictEqual(warnings.length, 1)
      }))

    test("gives a contested stage type to exactly one plugin when requests race on one replica", ({ startRegistry }) =>
      Effect.gen(function* () {
        yield* startRegistry()
        const client = yield* RegistryClient
        const plugins = Array.from({ length: 8 }, (_, i) => `plugin${i}`)
        const replies = yield* Effect.all(
          plugins.map((plugin) =>
            client.register(registration([stage("contested", { plugin }), stage(`own-${plugin}`, { plugin })], { pool: plugin }))
          ),
          { concurrency: "unbounded" }
        )
        assert.strictEqual(replies.filter((reply) => reply.decisions[0]!.accepted).length, 1)
        assert.isTrue(replies.every((reply) => reply.decisions[1]!.accepted))
        const listed = yield* client.list()
        assert.strictEqual(listed.stages.length, plugins.length + 1)
      }))

    test("marks a pool offline when its heartbeats stop and back online on the next heartbeat", ({ names, startRegistry }) =>
      Effect.gen(function* () {
        yield* startRegistry({ offlineAfter: "400 millis", sweepInterval: "50 millis" })
        const client = yield* RegistryClient
        const audit = yield* readAudit(names)
        yield* client.register(registration([stage("ingest")], { pool: "io" }))
        yield* client.register(registration([stage("extract")], { pool: "nlp" }))
        const isOnline = (type: string) => client.resolve([type]).pipe(Effect.map((reply) => reply.found[0]?.online))
        yield* eventually(
          "both pools marked offline",
          Effect.all([isOnline("ingest"), isOnline("extract")]).pipe(
            Effect.map(([ingest, extract]) => ingest === false && extract === false)
          ),
          { timeout: "10 seconds" }
        )
        const offline = yield* auditEntry(audit, "pool io offline", (e) => e.event === "pool-offline" && e.pool === "io")
        assert.deepStrictEqual(offline.types, ["ingest"])
        yield* client.heartbeat(new Heartbeat({ version: 1, pool: "io", executorId: "replica-9", slots: 4, inFlight: 0 }))
        assert.strictEqual(yield* isOnline("ingest"), true)
        yield* auditEntry(audit, "pool io online", (e) => e.event === "pool-online" && e.pool === "io")
        const listed = yield* client.list()
        assert.deepStrictEqual(
          listed.stages.map((s) => [s.metadata.type, s.online]),
          [
            ["extract", false],
            ["ingest", true]
          ]
        )
      }))

    test("resolves known stage types and suggests the closest known names for unknown ones", ({ startRegistry }) =>
      Effect.gen(function* () {
        yield* startRegistry()
        const client = yield* RegistryClient
        yield* client.register(
          registration(
            ["ingest", "ingest-pdf", "extract", "summarize", "hello.greet", "hello.greets", "hello.meet", "hello.wave"].map((type) =>
              stage(type)
            )
          )
        )
        const reply = yield* client.resolve(["ingest", "ingset", "hello.gret", "zzzzzzzzzzzz", "ingest"])
        assert.deepStrictEqual(
          reply.found.map((s) => s.metadata.type),
          ["ingest"]
        )
        assert.deepStrictEqual(reply.missing, [
          { type: "ingset", suggestions: ["ingest"] },
          // Nearest first, ties by name, at most three.
          { type: "hello.gret", suggestions: ["hello.greet", "hello.greets", "hello.meet"] },
          { type: "zzzzzzzzzzzz", suggestions: [] }
        ])
      }))

    test("answers a malformed message on each registry subject with the field and the expectation, and keeps serving", ({
      logs,
      names,
      startRegistry
    }) =>
      Effect.gen(function* () {
        yield* startRegistry()
        const client = yield* RegistryClient
        const bus = yield* Bus

        const register = yield* errorReplyTo(
          names.stageRegister,
          encodeJson({ version: 1, pool: "main", executorId: "e", runtime: "inline", stages: "all of them" })
        )
        assert.deepStrictEqual([register.subject, register.path], [names.stageRegister, "stages"])
        assert.include(register.message, "StageRegistration")

        const heartbeat = yield* errorReplyTo(names.stageHeartbeat, encodeJson({ version: 1, pool: "main" }))
        assert.deepStrictEqual(
          [heartbeat._tag, heartbeat.subject, heartbeat.path],
          ["MalformedMessageError", names.stageHeartbeat, "executorId"]
        )

        const list = yield* errorReplyTo(names.stageList, encoder.encode("{not json"))
        assert.deepStrictEqual([list._tag, list.subject, list.path], ["MalformedMessageError", names.stageList, ""])
        assert.include(list.message, "invalid JSON")

        const resolve = yield* errorReplyTo(names.stageResolve, encodeJson({ version: 1, types: ["ok", 7] }))
        assert.deepStrictEqual([resolve._tag, resolve.path], ["MalformedMessageError", "types[1]"])

        const wrongType = yield* errorReplyTo(names.stageRegister, encodeJson({}), { [TypeHeader]: WireType.Heartbeat })
        assert.deepStrictEqual([wrongType._tag, wrongType.path], ["MalformedMessageError", `headers.${TypeHeader}`])

        // A heartbeat published without a reply subject can only be logged.
        yield* bus.publish(names.stageHeartbeat, encodeJson({ version: 1, pool: "main", executorId: "e", slots: "many", inFlight: 0 }))
        yield* eventually("malformed heartbeat logged", () =>
          logs.some(
            (line) =>
              line.level === "Warn" &&
              line.annotations["subject"] === names.stageHeartbeat &&
              line.annotations["path"] === "slots" &&
              typeof line.annotations["reason"] === "string"
          )
        )

        const reply = yield* client.register(registration([stage("ingest")]))
        assert.isTrue(reply.decisions[0]!.accepted)
        assert.strictEqual((yield* client.list()).stages.length, 1)
        assert.strictEqual((yield* client.resolve(["ingest"])).found.length, 1)
        yield* client.heartbeat(new Heartbeat({ version: 1, pool: "main", executorId: "e", slots: 1, inFlight: 0 }))
      }))

    test("audits every accepted and rejected stage with its reason, logged at Debug", ({ logs, names, startRegistry }) =>
      Effect.gen(function* () {
        yield* startRegistry()
        const client = yield* RegistryClient
        const audit = yield* readAudit(names)
        yield* client.register(
          registration([stage("ingest", { version: "1.0.0" }), stage("broken", { count: "many" })], { executorId: "replica-7" })
        )
        const accepted = yield* auditEntry(audit, "ingest accepted", (e) => e.event === "accepted" && e.stage === "ingest")
        assert.deepStrictEqual(
          [accepted.service, accepted.plugin, accepted.stageVersion, accepted.pool, accepted.executorId],
          ["registry", "core", "1.0.0", "main", "replica-7"]
        )
        assert.isAbove(accepted.at, 0)
        const rejected = yield* auditEntry(audit, "broken rejected", (e) => e.event === "rejected" && e.stage === "broken")
        assert.deepStrictEqual([rejected.rejection?.code, rejected.rejection?.path], ["invalid-metadata", "stages[1].count"])
        // Logged at Debug: the default Info log stays readable, the audit stream keeps every entry.
        const audited = logs.filter((line) => line.annotations["audit"] !== undefined)
        assert.deepStrictEqual(
          audited.map((line) => [line.level, (line.annotations["audit"] as { readonly event: string }).event]).sort(),
          [
            ["Debug", "accepted"],
            ["Debug", "rejected"]
          ]
        )
      }).pipe(Effect.provideService(References.MinimumLogLevel, "Debug")))

    test("turns error replies and unreadable replies into typed client errors", ({ names }) =>
      Effect.gen(function* () {
        const bus = yield* Bus
        const client = yield* RegistryClient
        // A stand-in that answers the way a registry without storage would.
        const requests = yield* bus.subscribe(names.stageList)
        const unreadable = yield* bus.subscribe(names.stageResolve)
        yield* requests.pipe(
          Stream.runForEach((message) => {
            const { data, headers } = encode(
              EndpointErrorReply,
              EndpointErrorType,
              new ServiceUnavailableError({ subject: names.stageList, operation: "kv.keys", message: "bucket offline" })
            )
            return bus.respond(message, data, { headers })
          }),
          Effect.forkScoped
        )
        yield* unreadable.pipe(
          Stream.runForEach((message) =>
            bus.respond(message, encodeJson({ version: 1, found: "x" }), { headers: { [TypeHeader]: WireType.StageResolveReply } })
          ),
          Effect.forkScoped
        )
        const unavailable = yield* client.list().pipe(Effect.flip)
        assert.instanceOf(unavailable, ServiceUnavailableError)
        const { operation, isRetryable } = unavailable as ServiceUnavailableError
        assert.deepStrictEqual([operation, isRetryable], ["kv.keys", true])
        const malformed = yield* client.resolve(["x"]).pipe(Effect.flip)
        assert.instanceOf(malformed, MalformedMessageError)
        assert.deepStrictEqual([malformed.subject, malformed.path], [names.stageResolve, "found"])
      }))

    test("lets the client report that no registry is listening", () =>
      Effect.gen(function* () {
        const client = yield* RegistryClient
        const error = yield* client.list().pipe(Effect.flip)
        assert.strictEqual(error._tag, "NoRespondersError")
      }))
  })
}
