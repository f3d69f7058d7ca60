/**
 * A real local HTTP server for tests: listens on 127.0.0.1 on an
 * OS-assigned port, answers with the given handler, and closes (dropping
 * open connections) when the test's scope closes.
 */
import { createServer } from "node:http"
import type { RequestListener } from "node:http"
import type { AddressInfo } from "node:net"
import { Effect } from "effect"
import type { Scope } from "effect"

/** Starts a server in the current scope and yields its base URL, e.g. `http://127.0.0.1:43121`. */
export const httpServer = (handler: RequestListener): Effect.Effect<string, never, Scope.Scope> =>
  Effect.acquireRelease(
    Effect.callback<ReturnType<typeof createServer>>((resume) => {
      const server = createServer(handler)
      server.listen(0, "127.0.0.1", () => resume(Effect.succeed(server)))
    }),
    (server) =>
      Effect.sync(() => {
        server.closeAllConnections()
        server.close()
      })
  ).pipe(Effect.map((server) => `http://127.0.0.1:${(server.address() as AddressInfo).port}`))
