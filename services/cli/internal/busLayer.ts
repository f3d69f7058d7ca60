/**
 * The bus a command talks through: NATS at a URL, or the in-memory bus when
 * there is none. Each adapter module is imported when its layer is built,
 * so a command loads only the bus it uses, and one that only prints loads
 * neither.
 */
import { Effect, Layer } from "effect"
import type { Bus } from "@switchyard/bus/Bus"
import type { BusError } from "@switchyard/bus/BusError"

/** The bus: NATS at `url`, or the in-memory bus when there is none. */
export const busLayer = (url: string | undefined): Layer.Layer<Bus, BusError> =>
  Layer.unwrap(
    url === undefined
      ? Effect.promise(() => import("@switchyard/bus/MemoryBus")).pipe(Effect.map((MemoryBus) => MemoryBus.layer))
      : Effect.promise(() => import("@switchyard/bus/NatsBus")).pipe(Effect.map((NatsBus) => NatsBus.layer({ url, name: "switchyard" })))
  )
