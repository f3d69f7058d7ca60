/**
 * The actions of the `http` example plugin: `request` sends one HTTP request
 * with the global `fetch` and returns the response's status, headers and body
 * as data, whatever the status. Only a request that gets no response (a
 * network error or the timeout) fails, with a retryable `HttpRequestError`.
 */
import { Effect, Schema } from "effect"
import { defineAction } from "@switchyard/sdk"

/** The request got no response: the network failed or the timeout passed. */
export class HttpRequestError extends Schema.TaggedError<HttpRequestError>()("HttpRequestError", {
  method: Schema.String,
  url: Schema.String,
  reason: Schema.String
}) {
  /** Another attempt may get a response. */
  get retryable(): boolean {
    return true
  }
  override get message(): string {
    return `${this.method} ${this.url} failed: ${this.reason}`
  }
}

/** The input of `request`. */
export const RequestInput = Schema.Struct({
  method: Schema.optional(Schema.String),
  url: Schema.String,
  headers: Schema.optional(Schema.Record(Schema.String, Schema.String)),
  body: Schema.optional(Schema.String),
  timeoutMs: Schema.optional(Schema.Number)
})

/** The output of `request`. */
export const RequestOutput = Schema.Struct({
  status: Schema.Number,
  headers: Schema.Record(Schema.String, Schema.String),
  body: Schema.String
})

const defaultTimeoutMs = 30_000

/** `{ method, url, headers, body, timeoutMs }` → `{ status, headers, body }`. */
export const request = defineAction({
  name: "request",
  description: "Sends one HTTP request and returns its status, headers and body.",
  inputs: RequestInput,
  outputs: RequestOutput,
  run: (input, ctx) => {
    const method = (input.method ?? "GET").toUpperCase()
    const signal = AbortSignal.any([ctx.signal, AbortSignal.timeout(input.timeoutMs ?? defaultTimeoutMs)])
    const fail = (error: unknown) =>
      new HttpRequestError({
        method,
        url: input.url,
        reason: signal.aborted
          ? `aborted (${signal.reason instanceof Error ? signal.reason.name : String(signal.reason)})`
          : describe(error)
      })
    return Effect.gen(function* () {
      const response = yield* Effect.tryPromise({
        try: () =>
          fetch(input.url, {
            method,
            signal,
            ...(input.headers === undefined ? {} : { headers: input.headers }),
            ...(input.body === undefined ? {} : { body: input.body })
          }),
        catch: fail
      })
      const body = yield* Effect.tryPromise({ try: () => response.text(), catch: fail })
      ctx.log.info("http response", { method, url: input.url, status: response.status })
      return { status: response.status, headers: Object.fromEntries(response.headers.entries()), body }
    })
  }
})

const describe = (error: unknown): string => {
  if (error instanceof Error) {
    const cause = error.cause instanceof Error ? `: ${error.cause.message}` : ""
    return `${error.message}${cause}`
  }
  return String(error)
}
