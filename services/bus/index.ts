/**
 * The bus: the port (`Bus`), its message and config types, its errors, the
 * two adapters (`MemoryBus`, `NatsBus`), message encoding (`Codec`) and the
 * names of every subject, stream, consumer and bucket (`Subjects`).
 */
export * from "./Bus.ts"
export * from "./BusError.ts"
export * from "@switchyard/schemas/Codec"
export * as MemoryBus from "./MemoryBus.ts"
export * as NatsBus from "./NatsBus.ts"
export * from "@switchyard/schemas/Subjects"
