import { randomUUID } from "node:crypto"
import { jetstream, jetstreamManager } from "@nats-io/jetstream"
import { Objm, StorageType } from "@nats-io/obj"
import { Context, Effect, Layer } from "effect"
import { assert, describe, it } from "@effect/vitest"
import { inject } from "vitest"
import { digestOf } from "@switchyard/schemas/Blob"
import { BlobStore } from "../../../services/bus/BlobStore.ts"
import * as NatsBlobStore from "../../../services/bus/NatsBlobStore.ts"
import * as NatsBus from "../../../services/bus/NatsBus.ts"
import { uniquePrefix } from "../../support/unique.ts"
import { blobStoreSuite, tampered } from "./BlobStoreSuite.ts"

const digestName = /^[0-9a-f]{64}$/u

blobStoreSuite(
  "NATS",
  Effect.gen(function* () {
    const bucket = uniquePrefix("blobs")
    const context = yield* Layer.build(NatsBlobStore.layer({ bucket }).pipe(Layer.provideMerge(NatsBus.layer({ url: inject("natsUrl") }))))
    const nc = Context.get(context, NatsBus.NatsConnection)
    const objm = new Objm(jetstream(nc))
    // The bucket the store creates on first use; created here first when a hook runs before the store did.
    const objects = () => objm.create(bucket, { storage: StorageType.File })
    // Runs before the connection closes: scope finalizers run in reverse order.
    yield* Effect.addFinalizer(() => Effect.promise(() => objects().then((store) => store.destroy())).pipe(Effect.ignore))
    return {
      store: Context.get(context, BlobStore),
      where: bucket,
      corrupt: (ref) =>
        Effect.promise(async () => {
          const store = await objects()
          await store.putBlob({ name: digestOf(ref), metadata: { mediaType: ref.mediaType } }, tampered(ref.size))
        }),
      // Chunks that no live object points at, and live objects not named by a digest (temporaries).
      leftovers: Effect.promise(async () => {
        const store = await objects()
        const live = await store.list()
        const nuids = new Set(live.map((info) => info.nuid))
        const jsm = await jetstreamManager(nc)
        const chunkPrefix = `$O.${bucket}.C.`
        const info = await jsm.streams.info(`OBJ_${bucket}`, { subjects_filter: `${chunkPrefix}>` })
        const orphanChunks = Object.entries(info.state.subjects ?? {})
          .filter(([subject]) => !nuids.has(subject.slice(chunkPrefix.length)))
          .reduce((sum, [, count]) => sum + count, 0)
        return orphanChunks + live.filter((object) => !digestName.test(object.name)).length
      }),
      // What a putStream leaves when its process dies after writing the object and before renaming it.
      abandonTemporary: Effect.promise(async () => {
        const store = await objects()
        await store.putBlob({ name: `incoming.${randomUUID()}`, metadata: { mediaType: "text/plain" } }, new TextEncoder().encode("half"))
      })
    }
  }),
  { writesTemporaries: true }
)

describe("NATS blob store whose bucket is gone", () => {
  it.live("creates the bucket again and stores and reads blobs after it was deleted", () =>
    Effect.gen(function* () {
      const bucket = uniquePrefix("blobs")
      const context = yield* Layer.build(
        NatsBlobStore.layer({ bucket }).pipe(Layer.provideMerge(NatsBus.layer({ url: inject("natsUrl") })))
      )
      const store = Context.get(context, BlobStore)
      const nc = Context.get(context, NatsBus.NatsConnection)
      const jsm = yield* Effect.promise(() => jetstreamManager(nc))
      yield* Effect.addFinalizer(() => Effect.promise(() => jsm.streams.delete(`OBJ_${bucket}`)).pipe(Effect.ignore))
      const before = yield* store.put(new TextEncoder().encode("before"), { mediaType: "text/plain" })
      assert.strictEqual(new TextDecoder().decode(yield* store.get(before)), "before")
      yield* Effect.promise(() => jsm.streams.delete(`OBJ_${bucket}`))
      const after = yield* store.put(new TextEncoder().encode("after"), { mediaType: "text/plain" })
      assert.strictEqual(new TextDecoder().decode(yield* store.get(after)), "after")
      const lost = yield* store.get(before).pipe(Effect.flip)
      assert.strictEqual(lost._tag, "BlobMissingError", "what the deleted bucket held is gone, and said so")
    }).pipe(Effect.scoped)
  )
})
