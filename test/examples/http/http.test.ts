/**
 * The `http` example plugin's action, run in-process with the SDK's test
 * helper against a real local HTTP server.
 */
import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { request } from "../../../examples/plugins/http/actions.ts"
import { runActionEffect } from "../../../sdk/testing.ts"
import { localServer } from "./server.ts"

describe("http example plugin", () => {
  it.live("sends a GET request and returns the status, headers and body", () =>
    Effect.gen(function* () {
      const url = yield* localServer()
      const result = yield* runActionEffect(request, { url: `${url}/things?id=7` })
      expect(result.status).toBe("succeeded")
      if (result.status !== "succeeded") return
      const output = result.output as { status: number; headers: Record<string, string>; body: string }
      expect(output.status).toBe(200)
      expect(output.headers["x-echo"]).toBe("yes")
      expect(JSON.parse(output.body)).toMatchObject({ method: "GET", url: "/things?id=7", body: "" })
    }).pipe(Effect.scoped)
  )

  it.live("sends a POST request with its headers and body", () =>
    Effect.gen(function* () {
      const url = yield* localServer()
      const result = yield* runActionEffect(request, {
        method: "post",
        url: `${url}/items`,
        headers: { "x-token": "abc", "content-type": "text/plain" },
        body: "hello"
      })
      expect(result.status).toBe("succeeded")
      if (result.status !== "succeeded") return
      const output = result.output as { status: number; body: string }
      const echoed = JSON.parse(output.body)
      expect(echoed).toMatchObject({ method: "POST", url: "/items", body: "hello" })
      expect(echoed.headers).toMatchObject({ "x-token": "abc", "content-type": "text/plain" })
    }).pipe(Effect.scoped)
  )

  it.live("returns an error status as data rather than failing", () =>
    Effect.gen(function* () {
      const url = yield* localServer()
      const result = yield* runActionEffect(request, { url, headers: { "x-status": "404" } })
      expect(result.status).toBe("succeeded")
      if (result.status !== "succeeded") return
      expect((result.output as { status: number }).status).toBe(404)
    }).pipe(Effect.scoped)
  )

  it.live("fails with a retryable error when the server never answers within the timeout", () =>
    Effect.gen(function* () {
      const url = yield* localServer("hang")
      const result = yield* runActionEffect(request, { url, timeoutMs: 200 })
      expect(result.status).toBe("failed")
      if (result.status !== "failed") return
      expect(result.error).toMatchObject({ tag: "HttpRequestError", retryable: true })
      expect(result.error.message).toContain("aborted")
    }).pipe(Effect.scoped)
  )

  it.live("fails with a retryable error when nothing listens at the address", () =>
    Effect.gen(function* () {
      const result = yield* runActionEffect(request, { url: "http://127.0.0.1:1/" })
      expect(result.status).toBe("failed")
      if (result.status !== "failed") return
      expect(result.error).toMatchObject({ tag: "HttpRequestError", retryable: true })
    })
  )
})
