/**
 * Readers of run events for assertions: the stage an event is about (for the
 * kinds that are about one), a predicate that narrows to one kind, and a
 * builder that decodes a plain object as the event of its `kind`.
 */
import { Schema } from "effect"
import { RunEvent } from "../../schemas/Run.ts"

/** The stage an event is about, `undefined` for run events. */
export const stageOf = (event: RunEvent | typeof RunEvent.Encoded): string | undefined => ("stage" in event ? event.stage : undefined)

/** A predicate for events of one kind that narrows to it. */
export const isKind =
  <K extends RunEvent["kind"]>(kind: K) =>
  (event: RunEvent): event is Extract<RunEvent, { readonly kind: K }> =>
    event.kind === kind

/** The event a plain object describes, decoded as its kind says (fails the test when it does not fit). */
export const makeEvent = (fields: typeof RunEvent.Encoded): RunEvent => Schema.decodeUnknownSync(RunEvent)(fields)
