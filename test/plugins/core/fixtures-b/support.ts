/**
 * Test support for the core stage tests: a real local HTTP server whose
 * answers a test scripts per request (it records every request it saw),
 * a scoped temporary directory, and the task info a stage receives.
 */
import { mkdtemp, rm } from "node:fs/promises"
import type { IncomingMessage, ServerResponse } from "node:http"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { Effect } from "effect"
import { httpServer } from "../../../support/httpServer.ts"

/** A request the server received, body read as text. */
export interface SeenRequest {
  readonly method: string
  readonly url: string
  readonly headers: IncomingMessage["headers"]
  readonly body: string
}

/** Answers request number `index` (from 0). */
export type Script = (request: SeenRequest, response: ServerResponse, index: number) => void

/** A server in the current scope: its base URL and the requests seen so far. */
export const scriptedServer = (script: Script) =>
  Effect.gen(function* () {
    const requests: Array<SeenRequest> = []
    const url = yield* httpServer((request, response) => {
      const chunks: Array<Buffer> = []
      request.on("data", (chunk: Buffer) => chunks.push(chunk))
      request.on("end", () => {
        const seen = {
          method: request.method ?? "",
          url: request.url ?? "",
          headers: request.headers,
          body: Buffer.concat(chunks).toString("utf8")
        }
        requests.push(seen)
        script(seen, response, requests.length - 1)
      })
    })
    return { url, requests }
  })

/** A fresh temporary directory, removed when the scope closes. */
export const tempDir = (prefix: string) =>
  Effect.acquireRelease(
    Effect.promise(() => mkdtemp(join(tmpdir(), `switchyard-${prefix}-`))),
    (dir) => Effect.promise(() => rm(dir, { recursive: true, force: true }))
  )

/** The task info a stage receives. */
export const taskInfo = (runId = "run-1") => ({ taskId: `${runId}.stage`, runId, stage: "stage", attempt: 1 })

/** Writes `status` with a JSON body. */
export const sendJson = (response: ServerResponse, status: number, body: unknown): void => {
  response.writeHead(status, { "content-type": "application/json" })
  response.end(JSON.stringify(body))
}
