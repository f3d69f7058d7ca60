/**
 * The blob store a test's services share, where its bus is: an object store
 * bucket of the test's own names on the NATS connection the bus layer
 * provides, or an in-memory store beside the in-memory bus.
 */
import { Context, Effect, Layer } from "effect"
import type { Scope } from "effect"
import { BlobStore } from "../../services/bus/BlobStore.ts"
import * as MemoryBlobStore from "../../services/bus/MemoryBlobStore.ts"
import * as NatsBlobStore from "../../services/bus/NatsBlobStore.ts"
import { NatsConnection } from "../../services/bus/NatsBus.ts"
import type { Names } from "../../schemas/Subjects.ts"

/** A blob store for a test deployment named `names`, on the current bus's connection when it is NATS. */
export const blobStoreFor = (names: Names): Effect.Effect<BlobStore["Service"], never, Scope.Scope> =>
  Effect.gen(function* () {
    const connection = yield* Effect.serviceOption(NatsConnection)
    if (connection._tag === "None") return MemoryBlobStore.make()
    const context = yield* Layer.build(
      NatsBlobStore.layer({ bucket: names.buckets.blobs }).pipe(Layer.provide(Layer.succeed(NatsConnection, connection.value)))
    )
    return Context.get(context, BlobStore)
  })
