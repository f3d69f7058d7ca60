import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { connect as tcpConnect } from "node:net"
import { existsSync } from "node:fs"
import { inject } from "vitest"
import { jetstreamManager } from "@nats-io/jetstream"
import { connect } from "@nats-io/transport-node"
import * as NatsServer from "./NatsServer.ts"

const accepts = (port: number) =>
  Effect.callback<boolean>((resume) => {
    const socket = tcpConnect({ host: "127.0.0.1", port })
    socket.once("connect", () => {
      socket.destroy()
      resume(Effect.succeed(true))
    })
    socket.once("error", () => resume(Effect.succeed(false)))
  })

describe("NatsServer", () => {
  it.live("the global setup provides the URL of a server that accepts connections", () =>
    Effect.gen(function* () {
      const url = inject("natsUrl")
      const match = /^nats:\/\/127\.0\.0\.1:(\d+)$/.exec(url)
      assert.isNotNull(match)
      assert.isTrue(yield* accepts(Number(match![1])))
    })
  )

  it.live("restarts a private server on the same port after it was killed, and removes its directory on close", () =>
    Effect.gen(function* () {
      const dir = yield* Effect.scoped(
        Effect.gen(function* () {
          const server = yield* NatsServer.scoped()
          assert.isTrue(yield* accepts(server.port))
          yield* Effect.promise(() => server.kill())
          assert.isFalse(server.running())
          assert.isFalse(yield* accepts(server.port))
          yield* Effect.promise(() => server.restart())
          assert.isTrue(yield* accepts(server.port))
          assert.notStrictEqual(server.url, inject("natsUrl"))
          return server.jetStreamDir
        })
      )
      assert.isFalse(existsSync(dir))
    })
  )

  it.live("restarts a private server with an emptied store when asked to wipe it, and keeps the store otherwise", () =>
    Effect.gen(function* () {
      const server = yield* NatsServer.scoped()
      const streams = Effect.promise(async () => {
        const nc = await connect({ servers: server.url })
        try {
          const jsm = await jetstreamManager(nc)
          const names: Array<string> = []
          for await (const info of jsm.streams.list()) names.push(info.config.name)
          return names
        } finally {
          await nc.close()
        }
      })
      yield* Effect.promise(async () => {
        const nc = await connect({ servers: server.url })
        const jsm = await jetstreamManager(nc)
        await jsm.streams.add({ name: "KEPT", subjects: ["kept.>"] })
        await nc.close()
      })
      yield* Effect.promise(() => server.restart())
      assert.deepStrictEqual(yield* streams, ["KEPT"])
      yield* Effect.promise(() => server.restart({ wipe: true }))
      assert.deepStrictEqual(yield* streams, [])
      assert.isTrue(existsSync(server.jetStreamDir))
    }).pipe(Effect.scoped)
  )
})
