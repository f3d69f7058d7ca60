/**
 * The bus: the port (`Bus`), its message and config types, its errors, the
 * two adapters (`MemoryBus`, `NatsBus`), message encoding (`Codec`) and the
 * names of every subject, stream, consumer and bucket (`Subjects`); and the
 * blob store for values too large for a message: the port (`BlobStore`),
 * its errors, its adapters (`NatsBlobStore`, `FolderBlobStore`,
 * `MemoryBlobStore`) and the JSON helpers over it (`BlobJson`); and keeping
 * a service's streams, consumers and buckets in place (`Infrastructure`),
 * with what makes it ready (`Readiness`).
 */
export * from "./Bus.ts"
export * from "./BusError.ts"
export * from "@switchyard/schemas/Codec"
export * as MemoryBus from "./MemoryBus.ts"
export * as NatsBus from "./NatsBus.ts"
export * from "@switchyard/schemas/Subjects"
export * from "./BlobStore.ts"
export * from "./BlobError.ts"
export * from "@switchyard/schemas/Blob"
export * as BlobJson from "./BlobJson.ts"
export * as MemoryBlobStore from "./MemoryBlobStore.ts"
export * as FolderBlobStore from "./FolderBlobStore.ts"
export * as NatsBlobStore from "./NatsBlobStore.ts"
export * as Infrastructure from "./Infrastructure.ts"
export * as Readiness from "./Readiness.ts"
