import { assert, describe, it } from "@effect/vitest"
import { Context, Effect, Layer, Option } from "effect"
import { NatsBus } from "../../../services/bus/index.ts"
import { SwitchyardClient } from "../../../services/bus/SwitchyardClient.ts"
import { eventually } from "../../support/eventually.ts"
import * as NatsServer from "../../support/NatsServer.ts"

describe("SwitchyardClient across a NATS outage", () => {
  it.live(
    "reads run records again once the server is back, though its first read failed during the outage",
    () =>
      Effect.gen(function* () {
        const server = yield* NatsServer.scoped()
        const client = yield* Layer.build(SwitchyardClient.layer.pipe(Layer.provide(NatsBus.layer({ url: server.url })))).pipe(
          Effect.map((context) => Context.get(context, SwitchyardClient))
        )
        // The first read opens the runs bucket: with the server away, it fails.
        yield* Effect.promise(() => server.stop())
        const during = yield* client.getRun("no-such-run").pipe(Effect.timeout("20 seconds"), Effect.exit)
        assert.isTrue(during._tag === "Failure", "a read fails while the server is away")
        yield* Effect.promise(() => server.restart())
        // Before, the failed opening was remembered and every later read failed with it.
        const after = yield* eventually("a read succeeds once the server is back", client.getRun("no-such-run"), {
          timeout: "20 seconds",
          interval: "200 millis"
        })
        assert.isTrue(Option.isNone(after))
      }).pipe(Effect.scoped),
    60_000
  )
})
