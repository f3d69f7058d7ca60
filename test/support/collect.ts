/**
 * Collecting a stream in the background, for tests that publish and then
 * wait (with `eventually`) for what arrived. The collecting fiber lives as
 * long as the test's scope.
 */
import { Effect, Ref, type Scope, Stream } from "effect"
import { eventually, type EventuallyOptions, type EventuallyTimeoutError } from "./eventually.ts"

/** What a background collector has seen so far. */
export interface Collected<A> {
  readonly items: Effect.Effect<ReadonlyArray<A>>
  /** Waits until at least `count` items arrived and returns them all. */
  readonly atLeast: (count: number, options?: EventuallyOptions) => Effect.Effect<ReadonlyArray<A>, EventuallyTimeoutError>
}

/** Runs `stream` in a fiber of the current scope, keeping every element (optionally running `onItem` first). */
export const collect = <A, E, R>(
  label: string,
  stream: Stream.Stream<A, E, R>,
  onItem?: (item: A) => Effect.Effect<unknown, unknown, R>
): Effect.Effect<Collected<A>, never, R | Scope.Scope> =>
  Effect.gen(function* () {
    const ref = yield* Ref.make<ReadonlyArray<A>>([])
    yield* Stream.runForEach(stream, (item) =>
      Ref.update(ref, (items) => [...items, item]).pipe(Effect.andThen(onItem === undefined ? Effect.void : Effect.ignore(onItem(item))))
    ).pipe(Effect.forkScoped)
    const items = Ref.get(ref)
    return {
      items,
      atLeast: (count, options) =>
        eventually(
          `${label}: ${count} item(s)`,
          items.pipe(Effect.flatMap((seen) => (seen.length >= count ? Effect.succeed(seen) : Effect.fail(`${seen.length} item(s)`)))),
          options
        )
    }
  })
