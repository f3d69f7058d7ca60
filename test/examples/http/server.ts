/**
 * A real local HTTP server for the `http` example plugin's tests: listens on
 * 127.0.0.1 on an OS-assigned port, echoes each request back as JSON (or
 * never answers, for timeouts), and closes when the test's scope closes.
 */
import type { IncomingMessage, ServerResponse } from "node:http"
import { httpServer } from "../../support/httpServer.ts"

/** How the server answers: echo the request, or hold it open forever. */
export type ServerMode = "echo" | "hang"

const echo = (request: IncomingMessage, response: ServerResponse) => {
  const chunks: Array<Buffer> = []
  request.on("data", (chunk: Buffer) => chunks.push(chunk))
  request.on("end", () => {
    const status = Number(request.headers["x-status"] ?? "200")
    response.writeHead(status, { "content-type": "application/json", "x-echo": "yes" })
    response.end(
      JSON.stringify({
        method: request.method,
        url: request.url,
        headers: request.headers,
        body: Buffer.concat(chunks).toString("utf8")
      })
    )
  })
}

/** Starts a server in the current scope and returns its base URL. */
export const localServer = (mode: ServerMode = "echo") => httpServer(mode === "echo" ? echo : () => {})
