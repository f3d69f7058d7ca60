/**
 * The most specific message of an error. Node's `fetch` rejects with a bare
 * "fetch failed" and keeps the reason (connection refused, socket closed,
 * DNS failure) in `cause`, so when there is a cause its message is the one
 * worth reporting.
 */

/** The cause's message when the error has one, else its own. */
export const causeMessage = (error: unknown): string =>
  error instanceof Error ? (error.cause instanceof Error ? error.cause.message : error.message) : String(error)
