/**
 * The scheduler's table of live runs: one actor per running run, holding its
 * record (decoded) and the KV revision it was last saved at. A transition runs
 * synchronously on the record and the actor takes the record it makes
 * (nothing else runs in between on Node's single thread), so transitions of a
 * run are serial without a lock. Saves are group
 * commits: transitions that arrive while
 * a save is in flight are applied in memory and persisted together by the
 * next save, and none of their effects (dispatches, events, timers, and the
 * caller's ack) happen before the save that holds them succeeded. A save that
 * loses a compare-and-set race drops the actor; each waiting caller then
 * retries its own transition on the record reloaded from the bucket.
 * A record whose JSON passes a size is given to `compact` first, which may
 * store big state slots elsewhere and answer the snapshot with references in
 * their place.
 */
import { Clock, Deferred, Effect, Exit, Option, Semaphore } from "effect"
import type { Scope } from "effect"
import type { BusError, KvConflictError } from "@switchyard/bus/BusError"
import type { RunRecord } from "@switchyard/schemas/RunRecord"
import { withStoredSlots } from "./RunActor.ts"
import type { Transition } from "./RunActor.ts"
import { encodeRunRecord } from "./RunStore.ts"
import type { RunStore } from "./RunStore.ts"

type SaveError = BusError | KvConflictError

interface Batch {
  readonly transitions: Array<Transition>
  readonly done: Deferred.Deferred<void, SaveError>
}

interface Actor {
  doc: RunRecord
  revision: number
  /** Transitions applied since the save in flight began, waiting for the next save. */
  batch: Batch | undefined
  flushing: boolean
  /** Set once a save failed: the actor is stale and must not take transitions. */
  stale: boolean
}

/** Carries out a persisted transition's effects (dispatches, events, timers). */
export type Effects = (doc: RunRecord, transition: Transition) => Effect.Effect<void>

/**
 * Shrinks a record snapshot before it is saved, answering it with big state slots stored
 * elsewhere; the live record takes the same references where it still holds what the snapshot
 * held. Never fails: it answers the snapshot when it cannot do better.
 */
export type Compact = (snapshot: RunRecord) => Effect.Effect<RunRecord>

/** Live runs with group-committed transitions. */
export interface RunTable {
  /** Applies `step` to the run (loading it when needed); true when it changed the run and the change is saved. */
  readonly transact: (runId: string, step: (doc: RunRecord, now: number) => Transition | undefined) => Effect.Effect<boolean, SaveError>
  /** Stores a new run with its first transition applied, then carries out that transition's effects. */
  readonly create: (doc: RunRecord, first: (doc: RunRecord, now: number) => Transition) => Effect.Effect<void, SaveError>
  /** The in-memory record of a live run. */
  readonly live: (runId: string) => Option.Option<RunRecord>
  /** The ids of the live runs. */
  readonly runIds: () => ReadonlyArray<string>
  readonly size: () => number
}

/** A run table over `store`, running effects with `effects` and background saves in `scope`. */
export const makeRunTable = (options: {
  readonly store: RunStore["Service"]
  readonly effects: Effects
  readonly scope: Scope.Scope
  /** Given every record snapshot whose JSON is longer than `compactAbove`. */
  readonly compact?: Compact
  readonly compactAbove?: number
}): RunTable => {
  const { effects, scope, store } = options
  const compactAbove = options.compactAbove ?? Infinity
  const { compact } = options
  /** The JSON a snapshot is saved as, compacted when it is too long; the actor's record takes what compacting stored. */
  const sized = (actor: Actor, snapshot: RunRecord): Effect.Effect<string> => {
    const json = encodeRunRecord(snapshot)
    if (json.length <= compactAbove || compact === undefined) return Effect.succeed(json)
    return Effect.map(compact(snapshot), (compacted) => {
      if (compacted === snapshot) return json
      actor.doc = withStoredSlots(actor.doc, snapshot, compacted)
      return encodeRunRecord(compacted)
    })
  }
  const actors = new Map<string, Actor>()
  const loading = Semaphore.makeUnsafe(1)

  const newActor = (doc: RunRecord, revision: number): Actor => ({
    doc,
    revision,
    batch: undefined,
    flushing: false,
    stale: false
  })

  // One loader at a time, so a run never gets two actors.
  const actorFor = (runId: string): Effect.Effect<Option.Option<Actor>, BusError> => {
    const existing = actors.get(runId)
    if (existing !== undefined) return Effect.succeed(Option.some(existing))
    return loading.withPermit(
      Effect.gen(function* () {
        const raced = actors.get(runId)
        if (raced !== undefined) return Option.some(raced)
        const stored = yield* store.load(runId)
        if (Option.isNone(stored) || stored.value.doc.status !== "running") return Option.none<Actor>()
        const actor = newActor(stored.value.doc, stored.value.revision)
        actors.set(runId, actor)
        return Option.some(actor)
      })
    )
  }

  const drop = (actor: Actor) => {
    actor.stale = true
    if (actors.get(actor.doc.runId) === actor) actors.delete(actor.doc.runId)
  }

  /** The actor's batch waiting for a save, which is then no longer its. */
  const takeBatch = (actor: Actor): Batch | undefined => {
    const batch = actor.batch
    actor.batch = undefined
    return batch
  }

  /** Saves batches until none is left; runs each batch's effects after its save. */
  const flush = (actor: Actor): Effect.Effect<void> =>
    Effect.gen(function* () {
      while (true) {
        const batch = takeBatch(actor)
        if (batch === undefined) {
          actor.flushing = false
          return
        }
        // Taken in the same synchronous step: the snapshot holds exactly the batch's transitions.
        const snapshot = actor.doc
        const running = snapshot.status === "running"
        const json = yield* sized(actor, snapshot)
        const saved = yield* Effect.exit(store.save(actor.doc.runId, json, actor.revision))
        if (Exit.isFailure(saved)) {
          drop(actor)
          actor.flushing = false
          // Transitions queued behind the failed save were applied to the dropped record too.
          const orphan = takeBatch(actor)
          yield* Deferred.done(batch.done, Exit.asVoid(saved))
          if (orphan !== undefined) yield* Deferred.done(orphan.done, Exit.asVoid(saved))
          return
        }
        actor.revision = saved.value
        if (!running && actors.get(actor.doc.runId) === actor) actors.delete(actor.doc.runId)
        for (const transition of batch.transitions) yield* effects(actor.doc, transition)
        yield* Deferred.succeed(batch.done, undefined)
      }
    })

  /** Queues a transition; starts a flush unless one is running. */
  const enqueue = (actor: Actor, transition: Transition): Batch => {
    if (actor.batch === undefined) actor.batch = { transitions: [], done: Deferred.makeUnsafe<void, SaveError>() }
    actor.batch.transitions.push(transition)
    return actor.batch
  }

  const attempt = (runId: string, step: (doc: RunRecord, now: number) => Transition | undefined): Effect.Effect<boolean, SaveError> =>
    Effect.gen(function* () {
      const found = yield* actorFor(runId)
      if (Option.isNone(found)) return false
      const actor = found.value
      const now = yield* Clock.currentTimeMillis
      if (actor.stale) return yield* attempt(runId, step)
      const transition = step(actor.doc, now)
      if (transition === undefined) return false
      actor.doc = transition.record
      const batch = enqueue(actor, transition)
      if (!actor.flushing) {
        actor.flushing = true
        yield* Effect.forkIn(flush(actor), scope)
      }
      yield* Deferred.await(batch.done)
      return true
    })

  const transact = (runId: string, step: (doc: RunRecord, now: number) => Transition | undefined): Effect.Effect<boolean, SaveError> =>
    attempt(runId, step).pipe(
      Effect.catchTag("KvConflictError", (conflict) =>
        Effect.logWarning(`run ${runId} changed underneath this scheduler; reloading it`, conflict.message).pipe(
          Effect.andThen(attempt(runId, step))
        )
      )
    )

  const create = Effect.fnUntraced(function* (fresh: RunRecord, first: (doc: RunRecord, now: number) => Transition) {
    const now = yield* Clock.currentTimeMillis
    const transition = first(fresh, now)
    const doc = transition.record
    const actor = newActor(doc, 0)
    // Later transitions wait for this one's save and effects, like any batch.
    actor.flushing = true
    const json = yield* sized(actor, doc)
    const revision = yield* store.create(doc.runId, json).pipe(Effect.onError(() => Effect.sync(() => drop(actor))))
    actor.revision = revision
    // Registered before any task leaves, so its results find this actor.
    if (doc.status === "running") actors.set(doc.runId, actor)
    yield* effects(actor.doc, transition)
    yield* flush(actor)
  })

  return {
    transact,
    create,
    live: (runId) => Option.map(Option.fromUndefinedOr(actors.get(runId)), (actor) => actor.doc),
    runIds: () => [...actors.keys()],
    size: () => actors.size
  }
}
