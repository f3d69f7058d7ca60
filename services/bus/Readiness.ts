/**
 * Whether a service is ready to serve: the checks its parts register (the
 * bus connected, its streams, consumers and buckets in place, its stage
 * types announced), asked together by whoever reports readiness (the
 * service's `/readyz`). A part that runs without a `Readiness` in its
 * context registers nothing, so tests and the embedded default need none.
 */
import { Context, Effect, Layer, type Scope } from "effect"

/** One thing a service needs before it is ready, e.g. `bus connected`. */
export interface ReadinessCheck {
  readonly name: string
  readonly ready: Effect.Effect<boolean>
}

/** What each check says now. */
export interface ReadinessReport {
  readonly ready: boolean
  readonly checks: ReadonlyArray<{ readonly name: string; readonly ready: boolean }>
}

/** The checks of one service. */
export class Readiness extends Context.Service<
  Readiness,
  {
    /** Adds a check for as long as the scope lives. */
    readonly register: (check: ReadinessCheck) => Effect.Effect<void, never, Scope.Scope>
    /** Every check, asked now; ready when all are. With none registered yet, one failing check: `starting`. */
    readonly report: Effect.Effect<ReadinessReport>
  }
>()("switchyard/bus/Readiness") {
  /** A fresh set of checks. */
  static readonly layer: Layer.Layer<Readiness> = Layer.sync(Readiness, () => {
    const checks = new Set<ReadinessCheck>()
    return Readiness.of({
      register: (check) =>
        Effect.acquireRelease(
          Effect.sync(() => void checks.add(check)),
          () => Effect.sync(() => void checks.delete(check))
        ),
      report: Effect.suspend(() =>
        Effect.forEach([...checks], (check) => Effect.map(check.ready, (ready) => ({ name: check.name, ready })))
      ).pipe(
        Effect.map((results) =>
          // Before any part registered a check, the service is still starting.
          results.length === 0
            ? { ready: false, checks: [{ name: "starting", ready: false }] }
            : { ready: results.every((result) => result.ready), checks: results }
        )
      )
    })
  })
}

/** Registers `check` when the context has a `Readiness`; does nothing otherwise. */
export const register = (check: ReadinessCheck): Effect.Effect<void, never, Scope.Scope> =>
  Effect.serviceOption(Readiness).pipe(
    Effect.flatMap((readiness) => (readiness._tag === "Some" ? readiness.value.register(check) : Effect.void))
  )
