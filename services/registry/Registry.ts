/**
 * The registry service: the one place that knows which stage types exist,
 * which plugin owns each, and which pool serves it. It answers
 * `stage.register`, `stage.deregister`, `stage.heartbeat`, `stage.list` and
 * `stage.resolve` in the
 * `registry` queue group (replicas share the load, each serving requests
 * concurrently), keeps registrations in the stages KV bucket (a restarted
 * registry keeps them) and replica heartbeats in the pools bucket, marks pools
 * that stop beating offline and back online when they beat again, and audits
 * every decision. Each replica loads both buckets at startup and follows their
 * changes, so lookups and listings answer from memory, while ownership is
 * decided on the bucket's record and written by compare-and-set. Ownership: a
 * type belongs to the plugin that first registered it; the same plugin may
 * re-register it at the same version (another replica, a restart) or replace
 * it with a newer one; anything else is refused with a reason.
 *
 * Deregistration: a replica that stops serving stage types (it shuts down, or
 * a plugin it served disappeared) names them with their plugin. A type is
 * removed only when the plugin owns it, the replica's pool serves it, and no
 * other live replica of that pool still serves it: one whose last heartbeat
 * is younger than `offlineAfter` and whose heartbeats list the type (a
 * replica that never listed its types counts as serving every type of its
 * pool). Deregistrations, heartbeats and sweeps of one registry replica
 * exclude each other, so when every replica of a pool deregisters at once,
 * the last one to be answered removes the type. (Two registry replicas
 * answering two such replicas at the same moment may both keep it; it is
 * then marked offline by the sweep like any pool that stopped beating.)
 *
 * Lost infrastructure (`@switchyard/bus/Infrastructure`): the registry owns
 * its two buckets and the audit stream. When they are gone (the server came
 * back with an empty store, an operator deleted them) it recreates them,
 * answers every request with `ServiceUnavailableError` meanwhile, then
 * replaces its copies in memory with what the buckets hold (nothing, after a
 * wipe). A heartbeat's reply names the types it lists that the registry has
 * no record of, and the replica registers them again.
 *
 * Short names: a stage type of the `core` namespace (`core/core.ingest`)
 * also resolves by what follows the first `.` of its name (`ingest`), when no
 * other core type shares that short name.
 */
import { Clock, Context, Duration, Effect, Layer, Option, Result, Schedule, Schema, Semaphore, SemVer } from "effect"
import * as Readiness from "@switchyard/bus/Readiness"
import {
  DeregistrationDecision,
  DeregistrationReply,
  type Heartbeat as HeartbeatMessage,
  HeartbeatReply,
  RegisteredStage,
  RegistrationReply,
  StageDecision,
  StageDeregistration,
  StageKept,
  StageListReply,
  StageRegistration,
  StageRejection,
  StageResolveReply
} from "@switchyard/schemas/Registry"
import { StageMetadata } from "@switchyard/schemas/StageMetadata"
import { Bus } from "@switchyard/bus/Bus"
import { BusError, type KvConflictError } from "@switchyard/bus/BusError"
import * as Infrastructure from "@switchyard/bus/Infrastructure"
import { auditStream } from "@switchyard/bus/Streams"
import { Subjects } from "@switchyard/schemas/Subjects"
import { AuditLog, AuditPrevious } from "./AuditLog.ts"
import { coreAliases } from "./CoreAliases.ts"
import * as Endpoints from "@switchyard/bus/Endpoints"
import type { AnyEndpoint } from "@switchyard/schemas/Endpoint"
import { StageDeregister, StageHeartbeat, StageList, StageRegister, StageResolve } from "@switchyard/schemas/Endpoints"
import { makeBeatStore, makeStageStore, ReplicaBeat } from "./internal/stores.ts"
import { suggest } from "./internal/suggest.ts"
import { recordRegistration } from "./internal/instruments.ts"
import { RegistryConfig } from "./RegistryConfig.ts"
import { checkRegistration, type StageCheck } from "./StageValidation.ts"

/** The registry service. */
export class Registry extends Context.Service<
  Registry,
  {
    /** Validates and records the stages of a registration; one decision per stage, in order. */
    readonly register: (registration: StageRegistration) => Effect.Effect<RegistrationReply, BusError>
    /** Removes the named stage types unless another live replica of the pool still serves them; one decision per type. */
    readonly deregister: (deregistration: StageDeregistration) => Effect.Effect<DeregistrationReply, BusError>
    /** Records that a replica of a pool is alive; brings an offline pool back online. */
    readonly heartbeat: (heartbeat: HeartbeatMessage) => Effect.Effect<void, BusError>
    /** Every registered stage type, sorted by type. */
    readonly list: () => Effect.Effect<StageListReply, BusError>
    /** Looks stage types (or short names of core types) up; each unknown one comes with up to 3 close known names. */
    readonly resolve: (types: ReadonlyArray<string>) => Effect.Effect<StageResolveReply, BusError>
    /** Checks pool liveness now (it also runs every `sweepInterval`). */
    readonly sweep: () => Effect.Effect<void, BusError>
    /** False while the registry puts back buckets or streams it found gone. */
    readonly ready: Effect.Effect<boolean>
  }
>()("switchyard/registry/Registry") {
  /** The registry, serving its subjects while the layer is alive. */
  static readonly layer: Layer.Layer<Registry, BusError, Bus> = Layer.effect(
    Registry,
    Effect.gen(function* () {
      const bus = yield* Bus
      const names = yield* Subjects
      const config = yield* RegistryConfig
      const audit = yield* AuditLog
      // Both buckets are loaded before the registry serves anything, then
      // followed: lookups and listings answer from this replica's memory.
      const stages = yield* makeStageStore(yield* bus.kv(names.buckets.stages))
      const beats = yield* makeBeatStore(yield* bus.kv(names.buckets.pools))
      const infrastructure = yield* Infrastructure.make({
        service: "registry",
        ensure: Infrastructure.declare(bus, { streams: [auditStream(names)], buckets: [names.buckets.stages, names.buckets.pools] }),
        // The buckets may have been recreated (here or by another replica): the copies follow them afresh.
        recovered: () => Effect.all([stages.reload, beats.reload], { concurrency: 2, discard: true })
      })
      // Pools are given one full `offlineAfter` from startup before they can
      // be marked offline, so a registry restart does not flap every pool.
      const startedAt = yield* Clock.currentTimeMillis
      // Pools this replica last saw online in the store: a heartbeat from any
      // other pool triggers a check that brings its stages back online.
      const onlinePools = new Set<string>()
      // Recording a beat and sweeping exclude each other, so a sweep never
      // acts on beats read just before a heartbeat brought a pool back. (Across
      // replicas that race remains; the next sweep repairs it.)
      const liveness = yield* Semaphore.make(1)

      const claim = Effect.fnUntraced(function* (
        registration: StageRegistration,
        index: number,
        metadata: StageMetadata
      ): Effect.fn.Return<Claim, BusError | KvConflictError> {
        const now = yield* Clock.currentTimeMillis
        const fresh = new RegisteredStage({ metadata, pool: registration.pool, online: true, registeredAt: now })
        // Ownership is decided on the bucket's record, never on this replica's
        // copy, and every write compares against the revision decided on.
        const current = yield* stages.read(metadata.type)
        if (Option.isNone(current)) {
          yield* stages.create(fresh)
          return { _tag: "Created" }
        }
        const { record, revision } = current.value
        const previous = new AuditPrevious({
          plugin: record.metadata.plugin,
          version: record.metadata.version,
          pool: record.pool
        })
        const type = JSON.stringify(metadata.type)
        if (record.metadata.plugin !== metadata.plugin) {
          return refuse(
            "conflict",
            `stages[${index}].plugin`,
            `stage type ${type} belongs to plugin ${JSON.stringify(record.metadata.plugin)} (version ${record.metadata.version}, pool ${JSON.stringify(
              record.pool
            )}); plugin ${JSON.stringify(metadata.plugin)} cannot register it`
          )
        }
        const order = compareVersions(metadata.version, record.metadata.version)
        if (order < 0) {
          return refuse(
            "older-version",
            `stages[${index}].version`,
            `expected version ${record.metadata.version} or newer of stage type ${type} (registered by plugin ${JSON.stringify(
              record.metadata.plugin
            )}), found ${metadata.version}`
          )
        }
        if (order > 0) {
          yield* stages.update(fresh, revision)
          return { _tag: "Replaced", previous }
        }
        const samePool = record.pool === registration.pool
        if (!samePool && record.online) {
          return refuse(
            "conflict",
            `pool`,
            `stage type ${type} ${metadata.version} is served by pool ${JSON.stringify(record.pool)}, which is online; pool ${JSON.stringify(
              registration.pool
            )} can take it over only with a newer version or once that pool is offline`
          )
        }
        const sameMetadata = encodedMetadata(record.metadata) === encodedMetadata(metadata)
        if (samePool && sameMetadata && record.online) return { _tag: "Reaccepted", previous }
        yield* stages.update(
          new RegisteredStage({ ...fresh, registeredAt: samePool && sameMetadata ? record.registeredAt : now }),
          revision
        )
        return samePool ? { _tag: "Reaccepted", previous } : { _tag: "Replaced", previous }
      })

      const decide = Effect.fnUntraced(function* (registration: StageRegistration, check: StageCheck) {
        const about = {
          pool: registration.pool,
          executorId: registration.executorId,
          ...(check.type === "" ? {} : { stage: check.type })
        }
        if (Result.isFailure(check.result)) {
          const rejection = check.result.failure
          yield* audit.record({ event: "rejected", ...about, rejection })
          return new StageDecision({ type: check.type, accepted: false, rejection })
        }
        const metadata = check.result.success
        const outcome = yield* claim(registration, check.index, metadata).pipe(
          Effect.retry({ while: isKvConflict, times: 10 }),
          Effect.catchTag("KvConflictError", (error) =>
            Effect.fail(
              new BusError({
                operation: "kv.update",
                subject: error.bucket,
                message: `stage type ${metadata.type} kept changing under concurrent registrations`
              })
            )
          )
        )
        const described = { ...about, plugin: metadata.plugin, stageVersion: metadata.version }
        switch (outcome._tag) {
          case "Refused":
            yield* audit.record({ event: "rejected", ...described, rejection: outcome.rejection })
            return new StageDecision({ type: metadata.type, accepted: false, rejection: outcome.rejection })
          case "Replaced":
            yield* audit.record({ event: "replaced", ...described, previous: outcome.previous })
            return new StageDecision({ type: metadata.type, accepted: true })
          case "Reaccepted":
            yield* audit.record({ event: "accepted", ...described, previous: outcome.previous })
            return new StageDecision({ type: metadata.type, accepted: true })
          case "Created":
            yield* audit.record({ event: "accepted", ...described })
            return new StageDecision({ type: metadata.type, accepted: true })
        }
      })

      /** Sets `online` on one stage record if it is still served by `pool`; true when it changed. */
      const setOnline = (type: string, pool: string, online: boolean) =>
        Effect.gen(function* () {
          const current = yield* stages.read(type)
          if (Option.isNone(current)) return false
          const { record, revision } = current.value
          if (record.pool !== pool || record.online === online) return false
          yield* stages.update(new RegisteredStage({ ...record, online }), revision)
          return true
        }).pipe(
          Effect.retry({ while: isKvConflict, times: 10 }),
          Effect.catchTag("KvConflictError", () => Effect.succeed(false))
        )

      /** Marks the stages of `pool` online or offline and audits the change once. */
      const markPool = Effect.fnUntraced(function* (options: {
        readonly pool: string
        readonly online: boolean
        readonly records: ReadonlyArray<RegisteredStage>
        readonly lastSeen: number | undefined
      }) {
        const ofPool = options.records.filter((record) => record.pool === options.pool)
        const changed = yield* Effect.forEach(
          ofPool.filter((record) => record.online !== options.online),
          (record) => setOnline(record.metadata.type, options.pool, options.online)
        )
        if (changed.some((flag) => flag)) {
          yield* audit.record({
            event: options.online ? "pool-online" : "pool-offline",
            pool: options.pool,
            types: ofPool.map((record) => record.metadata.type).sort(),
            ...(options.lastSeen === undefined ? {} : { lastSeen: options.lastSeen })
          })
        }
        if (options.online) onlinePools.add(options.pool)
        else onlinePools.delete(options.pool)
      })

      const bringOnline = Effect.fnUntraced(function* (pool: string, lastSeen: number) {
        if (onlinePools.has(pool)) return
        yield* markPool({ pool, online: true, records: stages.records(), lastSeen })
      })

      const register = Effect.fn("Registry.register")(function* (registration: StageRegistration) {
        // A dependency registered through another replica moments ago may not
        // have reached this replica's copy yet: look those up in the bucket.
        const inRegistration = new Set(registration.stages.map(typeOf))
        const unseen = [...dependenciesOf(registration)].filter((type) => !inRegistration.has(type) && stages.lookup(type) === undefined)
        yield* Effect.forEach(unseen, stages.read, { concurrency: 16, discard: true })
        const known = new Map(stages.records().map((record) => [record.metadata.type, record.metadata.dependencies] as const))
        const checks = checkRegistration(registration, known)
        const decisions = yield* Effect.forEach(checks, (check) => decide(registration, check))
        if (decisions.some((decision) => decision.accepted)) {
          // Registering counts as a sign of life: a pool that registers and
          // never beats still goes offline after `offlineAfter`.
          yield* Effect.gen(function* () {
            const now = yield* Clock.currentTimeMillis
            const previous = beats.get(registration)
            const accepted = decisions.filter((decision) => decision.accepted).map((decision) => decision.type)
            yield* beats.put(
              new ReplicaBeat({
                ...previous,
                pool: registration.pool,
                executorId: registration.executorId,
                lastSeen: now,
                types: [...new Set([...(previous?.types ?? []), ...accepted])].sort()
              })
            )
            yield* bringOnline(registration.pool, now)
          }).pipe(Semaphore.withPermit(liveness))
        }
        const reply = new RegistrationReply({ version: 1, decisions })
        yield* recordRegistration(registration.pool, reply)
        return reply
      })

      const heartbeat = Effect.fn("Registry.heartbeat")(function* (beat: HeartbeatMessage) {
        const now = yield* Clock.currentTimeMillis
        // A heartbeat that does not list its types keeps what the replica said before.
        const types = beat.types ?? beats.get(beat)?.types
        yield* beats.put(
          new ReplicaBeat({
            pool: beat.pool,
            executorId: beat.executorId,
            lastSeen: now,
            slots: beat.slots,
            inFlight: beat.inFlight,
            ...(types === undefined ? {} : { types })
          })
        )
        yield* bringOnline(beat.pool, now)
      }, Semaphore.withPermit(liveness))

      const keep = (type: string, code: StageKept["code"], message: string) =>
        new DeregistrationDecision({ type, removed: false, kept: new StageKept({ code, message }) })

      /** Decides on one stage type of a deregistration, removing it when nothing else serves it. */
      const withdraw = Effect.fnUntraced(function* (request: StageDeregistration, type: string, now: number) {
        const quoted = JSON.stringify(type)
        const current = yield* stages.read(type)
        if (Option.isNone(current)) return keep(type, "not-registered", `stage type ${quoted} is not registered`)
        const { record } = current.value
        if (record.metadata.plugin !== request.plugin) {
          return keep(
            type,
            "not-owner",
            `stage type ${quoted} belongs to plugin ${JSON.stringify(record.metadata.plugin)}; plugin ${JSON.stringify(
              request.plugin
            )} cannot deregister it`
          )
        }
        if (record.pool !== request.pool) {
          return keep(
            type,
            "other-pool",
            `stage type ${quoted} is served by pool ${JSON.stringify(record.pool)}, not by pool ${JSON.stringify(request.pool)}`
          )
        }
        const offlineAfter = Duration.toMillis(config.offlineAfter)
        const others = beats
          .all()
          .filter(
            (beat) =>
              beat.pool === request.pool &&
              beat.executorId !== request.executorId &&
              now - beat.lastSeen < offlineAfter &&
              (beat.types === undefined || beat.types.includes(type))
          )
          .map((beat) => beat.executorId)
        if (others.length > 0) {
          return keep(
            type,
            "still-served",
            `stage type ${quoted} is still served by live replica(s) ${others.join(", ")} of pool ${JSON.stringify(request.pool)}`
          )
        }
        yield* stages.remove(type)
        yield* audit.record({
          event: "deregistered",
          stage: type,
          plugin: record.metadata.plugin,
          stageVersion: record.metadata.version,
          pool: request.pool,
          executorId: request.executorId
        })
        return new DeregistrationDecision({ type, removed: true })
      })

      const deregister = Effect.fn("Registry.deregister")(function* (request: StageDeregistration) {
        const now = yield* Clock.currentTimeMillis
        const types = [...new Set(request.types)]
        const decisions = yield* Effect.forEach(types, (type) => withdraw(request, type, now))
        // The replica no longer serves these types: a later deregistration from
        // another replica of the pool must not count it.
        const own = beats.get(request)
        if (own !== undefined) {
          if (request.reason === "shutdown") yield* beats.remove(own)
          else if (own.types !== undefined) {
            const gone = new Set(types)
            yield* beats.put(new ReplicaBeat({ ...own, types: own.types.filter((type) => !gone.has(type)) }))
          }
        }
        return new DeregistrationReply({ version: 1, decisions })
      }, Semaphore.withPermit(liveness))

      const list = Effect.fn("Registry.list")(function* () {
        return new StageListReply({ version: 1, stages: stages.records() })
      })

      // Short names of the records as last listed; rebuilt only when the records change.
      let aliasesOf: ReadonlyArray<RegisteredStage> | undefined
      let aliases: ReadonlyMap<string, string> = new Map()
      const byShortName = (name: string): RegisteredStage | undefined => {
        const records = stages.records()
        if (records !== aliasesOf) {
          aliases = coreAliases(records.map((record) => record.metadata.type))
          aliasesOf = records
        }
        const type = aliases.get(name)
        return type === undefined ? undefined : stages.lookup(type)
      }
      const find = (name: string): RegisteredStage | undefined => stages.lookup(name) ?? byShortName(name)

      // On every run submission: no call-site stack capture, and the reply
      // is written from each record's cached wire form.
      const lookup = Effect.fnUntraced(
        function* (types: ReadonlyArray<string>) {
          const wanted = [...new Set(types)]
          // A type registered through another replica moments ago may not have
          // reached this replica's copy yet: an unknown one is looked up in the bucket.
          const unseen = wanted.filter((type) => find(type) === undefined)
          if (unseen.length > 0) yield* Effect.forEach(unseen, stages.read, { concurrency: 16, discard: true })
          const found: Array<RegisteredStage> = []
          const unknown: Array<string> = []
          for (const type of wanted) {
            const record = find(type)
            if (record === undefined) unknown.push(type)
            else found.push(record)
          }
          const knownTypes = unknown.length === 0 ? [] : stages.records().map((record) => record.metadata.type)
          const missing = unknown.map((type) => ({ type, suggestions: suggest(type, knownTypes) }))
          return { found, missing }
        },
        Effect.withSpan("Registry.resolve", undefined, { captureStackTrace: false })
      )

      // The common case answers from memory without a fiber step: every type is in this
      // replica's index. Replies are kept per list of names until the index changes (its
      // `records()` array is replaced on every change), so a repeated lookup builds nothing.
      const maxCachedReplies = 10_000
      let cachedReplies = new Map<string, StageResolveReply>()
      let cachedFor: ReadonlyArray<RegisteredStage> | undefined
      const resolve = (types: ReadonlyArray<string>): Effect.Effect<StageResolveReply, BusError> => Effect.suspend(() => resolveNow(types))

      const resolveNow = (types: ReadonlyArray<string>): Effect.Effect<StageResolveReply, BusError> => {
        const current = stages.records()
        if (current !== cachedFor) {
          cachedReplies = new Map()
          cachedFor = current
        }
        const key = types.length === 1 ? types[0]! : types.join("\u0000")
        const cached = cachedReplies.get(key)
        if (cached !== undefined) return Effect.succeed(cached)
        const found: Array<RegisteredStage> = []
        for (const type of types) {
          const record = find(type)
          if (record === undefined) return slowResolve(types)
          if (!found.includes(record)) found.push(record)
        }
        // The records are already-checked instances: the reply is not checked again.
        const reply = new StageResolveReply({ version: 1, found, missing: [] }, { disableChecks: true })
        if (cachedReplies.size < maxCachedReplies) cachedReplies.set(key, reply)
        return Effect.succeed(reply)
      }

      const slowResolve = (types: ReadonlyArray<string>) =>
        lookup(types).pipe(Effect.map(({ found, missing }) => new StageResolveReply({ version: 1, found, missing })))

      const sweep = Effect.fn("Registry.sweep")(function* () {
        const now = yield* Clock.currentTimeMillis
        const replicas = beats.all()
        const lastSeen = new Map<string, number>()
        for (const beat of replicas) {
          lastSeen.set(beat.pool, Math.max(lastSeen.get(beat.pool) ?? 0, beat.lastSeen))
        }
        const records = stages.records()
        const offlineAfter = Duration.toMillis(config.offlineAfter)
        for (const pool of new Set(records.map((record) => record.pool))) {
          const seen = lastSeen.get(pool)
          const online = now - Math.max(seen ?? 0, startedAt) < offlineAfter
          yield* markPool({ pool, online, records, lastSeen: seen })
        }
        const forgetAfter = Duration.toMillis(config.forgetReplicaAfter)
        yield* Effect.forEach(
          replicas.filter((beat) => now - beat.lastSeen > forgetAfter),
          (beat) => beats.remove(beat),
          { discard: true }
        )
      }, Semaphore.withPermit(liveness))

      yield* sweep().pipe(
        // A bucket that is gone is put back by the infrastructure, which says so once.
        Effect.catchIf((error) => error.isMissing, infrastructure.lost),
        Effect.catchCause((cause) => Effect.logError("pool liveness check failed", cause)),
        Effect.repeat(Schedule.spaced(config.sweepInterval)),
        Effect.delay(config.sweepInterval),
        Effect.forkScoped
      )

      const serveEndpoint = <E extends AnyEndpoint>(
        endpoint: E,
        handle: (request: Schema.Schema.Type<E["request"]>) => Effect.Effect<Schema.Schema.Type<E["success"]>, BusError>
      ) =>
        Endpoints.serve({
          bus,
          names,
          endpoint,
          queue: queueGroup,
          concurrency: requestConcurrency,
          handle: (request, message) => infrastructure.serve(message.subject, handle(request))
        })

      /** The types a beat lists that no record names, looked up in the bucket when this replica's copy lacks them. */
      const unknownTypes = Effect.fnUntraced(function* (beat: HeartbeatMessage) {
        const unseen = (beat.types ?? []).filter((type) => stages.lookup(type) === undefined)
        if (unseen.length === 0) return unseen
        const stored = yield* Effect.forEach(unseen, stages.read, { concurrency: 16 })
        return unseen.filter((_, index) => Option.isNone(stored[index]!))
      })

      yield* serveEndpoint(StageRegister, register)
      yield* serveEndpoint(StageDeregister, deregister)
      // A heartbeat sent as a request is answered once it is recorded, naming the types the registry does not know.
      yield* serveEndpoint(StageHeartbeat, (beat) =>
        heartbeat(beat).pipe(
          Effect.andThen(unknownTypes(beat)),
          Effect.map((unknown) => new HeartbeatReply({ version: 1, ...(unknown.length === 0 ? {} : { unknown }) }))
        )
      )
      yield* serveEndpoint(StageList, () => list())
      yield* serveEndpoint(StageResolve, (request) => resolve(request.types))

      yield* Effect.logInfo("registry ready")
      yield* Readiness.register({ name: "registry: answering", ready: Effect.succeed(true) })
      return Registry.of({ register, deregister, heartbeat, list, resolve, sweep, ready: infrastructure.ready })
    })
  ).pipe(Layer.provide(AuditLog.layer))
}

type Claim =
  | { readonly _tag: "Created" }
  | { readonly _tag: "Reaccepted"; readonly previous: AuditPrevious }
  | { readonly _tag: "Replaced"; readonly previous: AuditPrevious }
  | { readonly _tag: "Refused"; readonly rejection: StageRejection }

/** Queue group shared by all registry replicas: each request goes to one of them. */
const queueGroup = "registry"

/** Requests of one subject a replica handles at once; handlers race safely (writes compare-and-set). */
const requestConcurrency = 64

const refuse = (code: StageRejection["code"], path: string, message: string): Claim => ({
  _tag: "Refused",
  rejection: new StageRejection({ code, path, message })
})

const isKvConflict = (error: BusError | KvConflictError): error is KvConflictError => error._tag === "KvConflictError"

/** Semver precedence; a stored version that no longer parses counts as older than anything. */
const compareVersions = (next: string, stored: string): number => {
  const a = SemVer.parse(next)
  const b = SemVer.parse(stored)
  if (Result.isFailure(b)) return 1
  if (Result.isFailure(a)) return -1
  return SemVer.Order(a.success, b.success)
}

const encodedMetadata = (metadata: StageMetadata): string => JSON.stringify(Schema.encodeSync(StageMetadata)(metadata))

const isObject = (value: unknown): value is Readonly<Record<string, unknown>> => typeof value === "object" && value !== null

const typeOf = (raw: unknown): string => (isObject(raw) && typeof raw["type"] === "string" ? raw["type"] : "")

/** Every stage type the (not yet validated) stages of a registration name as a dependency. */
const dependenciesOf = (registration: StageRegistration): ReadonlySet<string> => {
  const names = new Set<string>()
  for (const raw of registration.stages) {
    const dependencies = isObject(raw) ? raw["dependencies"] : undefined
    if (!Array.isArray(dependencies)) continue
    for (const dependency of dependencies) if (typeof dependency === "string") names.add(dependency)
  }
  return names
}
