/**
 * The bus a command talks through, with the blob store beside it: NATS at a
 * URL (the blob store is an object store bucket on the same connection), or
 * the in-memory bus and an in-memory blob store when there is none. Each
 * adapter module is imported when its layer is built, so a command loads only
 * the bus it uses, and one that only prints loads neither.
 */
import { Effect, Layer } from "effect"
import type { Bus } from "@switchyard/bus/Bus"
import type { BlobStore } from "@switchyard/bus/BlobStore"
import type { BusError } from "@switchyard/bus/BusError"

/** The bus and blob store: NATS at `url`, or in memory when there is none. */
export const busLayer = (url: string | undefined): Layer.Layer<Bus | BlobStore, BusError> =>
  Layer.unwrap(
    url === undefined
      ? Effect.promise(() => Promise.all([import("@switchyard/bus/MemoryBus"), import("@switchyard/bus/MemoryBlobStore")])).pipe(
          Effect.map(([MemoryBus, MemoryBlobStore]) => Layer.merge(MemoryBus.layer, MemoryBlobStore.layer))
        )
      : Effect.promise(() => Promise.all([import("@switchyard/bus/NatsBus"), import("@switchyard/bus/NatsBlobStore")])).pipe(
          Effect.map(([NatsBus, NatsBlobStore]) =>
            NatsBlobStore.layer().pipe(Layer.provideMerge(NatsBus.layer({ url, name: "switchyard" })))
          )
        )
  )
