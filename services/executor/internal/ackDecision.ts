/**
 * A task handler's verdict on the message it leased, as a value: ack (done),
 * nak with an optional delay (deliver again), or term with a reason (poison,
 * dead-lettered). Applying it is the last thing that happens to a message.
 */
import { Effect } from "effect"
import type { Duration } from "effect"
import type { JobMessage } from "@switchyard/bus/Bus"

/** What to do with a leased message. */
export type AckDecision =
  { readonly _tag: "Ack" } | { readonly _tag: "Nak"; readonly delay?: Duration.Input } | { readonly _tag: "Term"; readonly reason: string }

export const ack: AckDecision = { _tag: "Ack" }

export const nak = (delay?: Duration.Input): AckDecision => (delay === undefined ? { _tag: "Nak" } : { _tag: "Nak", delay })

export const term = (reason: string): AckDecision => ({ _tag: "Term", reason })

/** Applies a decision; a failure to settle is logged (the lease runs out and the bus redelivers). */
export const settle = (message: JobMessage, decision: AckDecision): Effect.Effect<void> => {
  const settling =
    decision._tag === "Ack" ? message.ack : decision._tag === "Nak" ? message.nak(decision.delay) : message.term(decision.reason)
  return settling.pipe(
    Effect.catch((error) =>
      Effect.logWarning("could not settle a task message; it will be redelivered after its lease", {
        subject: message.subject,
        seq: message.seq,
        decision: decision._tag,
        error: error.message
      })
    )
  )
}
