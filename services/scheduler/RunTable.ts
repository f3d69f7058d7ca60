/**
 * The scheduler's table of live runs: one actor per running run, holding its
 * record and the KV revision it was last saved at. A transition runs
 * synchronously on the record (nothing else runs in between on Node's single
 * thread), so transitions of a run are serial without a lock. Saves are group
 * commits: transitions that arrive while
 * a save is in flight are applied in memory and persisted together by the
 * next save, and none of their effects (dispatches, events, timers, and the
 * caller's ack) happen before the save that holds them succeeded. A save that
 * loses a compare-and-set race drops the actor; each waiting caller then
 * retries its own transition on the record reloaded from the bucket.
 * A record whose JSON passes a size is given to `compact` first, which may
 * store big state slots elsewhere and answer a smaller JSON of the same
 * snapshot.
 */
import { Clock, Deferred, Effect, Exit, Option, Semaphore } from "effect"
import type { Scope } from "effect"
import type { BusError, KvConflictError } from "@switchyard/bus/BusError"
import type { RunDoc, Transition } from "./RunActor.ts"
import type { RunStore } from "./RunStore.ts"

type SaveError = BusError | KvConflictError

interface Batch {
  readonly transitions: Array<Transition>
  readonly done: Deferred.Deferred<void, SaveError>
}

interface Actor {
  readonly doc: RunDoc
  revision: number
  batch: Batch | undefined
  flushing: boolean
  /** Set once a save failed: the actor is stale and must not take transitions. */
  stale: boolean
}

/** Carries out a persisted transition's effects (dispatches, events, timers). */
export type Effects = (doc: RunDoc, transition: Transition) => Effect.Effect<void>

/**
 * Shrinks the JSON of a record snapshot (taken synchronously as `json`) before it is saved; may
 * also replace, in `doc`, slots that still hold what the snapshot held by what the smaller JSON
 * holds. Never fails: it answers `json` when it cannot do better.
 */
export type Compact = (doc: RunDoc, json: string) => Effect.Effect<string>

/** Live runs with group-committed transitions. */
export interface RunTable {
  /** Applies `step` to the run (loading it when needed); true when it changed the run and the change is saved. */
  readonly transact: (runId: string, step: (doc: RunDoc, now: number) => Transition | undefined) => Effect.Effect<boolean, SaveError>
  /** Stores a new run with its first transition applied, then carries out that transition's effects. */
  readonly create: (doc: RunDoc, first: (doc: RunDoc, now: number) => Transition) => Effect.Effect<void, SaveError>
  /** The in-memory record of a live run. */
  readonly live: (runId: string) => Option.Option<RunDoc>
  readonly size: () => number
}

/** A run table over `store`, running effects with `effects` and background saves in `scope`. */
export const makeRunTable = (options: {
  readonly store: RunStore["Service"]
  readonly effects: Effects
  readonly scope: Scope.Scope
  /** Given every record whose JSON is longer than `compactAbove`. */
  readonly compact?: Compact
  readonly compactAbove?: number
}): RunTable => {
  const { effects, scope, store } = options
  const compactAbove = options.compactAbove ?? Infinity
  const sized = (doc: RunDoc, json: string): Effect.Effect<string> =>
    json.length <= compactAbove || options.compact === undefined ? Effect.succeed(json) : options.compact(doc, json)
  const actors = new Map<string, Actor>()
  const loading = Semaphore.makeUnsafe(1)

  const newActor = (doc: RunDoc, revision: number): Actor => ({
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

  /** Saves batches until none is left; runs each batch's effects after its save. */
  const flush = (actor: Actor): Effect.Effect<void> =>
    Effect.gen(function* () {
      while (true) {
        const batch = actor.batch
        actor.batch = undefined
        if (batch === undefined) {
          actor.flushing = false
          return
        }
        // Serialized in the same synchronous step: the snapshot holds exactly the batch's transitions.
        const snapshot = JSON.stringify(actor.doc)
        const running = actor.doc.status === "running"
        const json = yield* sized(actor.doc, snapshot)
        const saved = yield* Effect.exit(store.save(actor.doc.runId, json, actor.revision))
        if (Exit.isFailure(saved)) {
          drop(actor)
          actor.flushing = false
          // Transitions queued behind the failed save were applied to the dropped record too.
          const orphan = actor.batch as Batch | undefined
          actor.batch = undefined
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

  const attempt = (runId: string, step: (doc: RunDoc, now: number) => Transition | undefined): Effect.Effect<boolean, SaveError> =>
    Effect.gen(function* () {
      const found = yield* actorFor(runId)
      if (Option.isNone(found)) return false
      const actor = found.value
      const now = yield* Clock.currentTimeMillis
      if (actor.stale) return yield* attempt(runId, step)
      const transition = step(actor.doc, now)
      if (transition === undefined) return false
      const batch = enqueue(actor, transition)
      if (!actor.flushing) {
        actor.flushing = true
        yield* Effect.forkIn(flush(actor), scope)
      }
      yield* Deferred.await(batch.done)
      return true
    })

  const transact = (runId: string, step: (doc: RunDoc, now: number) => Transition | undefined): Effect.Effect<boolean, SaveError> =>
    attempt(runId, step).pipe(
      Effect.catchTag("KvConflictError", (conflict) =>
        Effect.logWarning(`run ${runId} changed underneath this scheduler; reloading it`, conflict.message).pipe(
          Effect.andThen(attempt(runId, step))
        )
      )
    )

  const create = Effect.fnUntraced(function* (doc: RunDoc, first: (doc: RunDoc, now: number) => Transition) {
    const now = yield* Clock.currentTimeMillis
    const transition = first(doc, now)
    const actor = newActor(doc, 0)
    // Later transitions wait for this one's save and effects, like any batch.
    actor.flushing = true
    const json = yield* sized(doc, JSON.stringify(doc))
    const revision = yield* store.create(doc.runId, json).pipe(Effect.onError(() => Effect.sync(() => drop(actor))))
    actor.revision = revision
    // Registered before any task leaves, so its results find this actor.
    if (doc.status === "running") actors.set(doc.runId, actor)
    yield* effects(doc, transition)
    yield* flush(actor)
  })

  return {
    transact,
    create,
    live: (runId) => Option.map(Option.fromUndefinedOr(actors.get(runId)), (actor) => actor.doc),
    size: () => actors.size
  }
}
