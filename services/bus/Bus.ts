/**
 * The bus port: core publish/subscribe and request/reply, durable work queues
 * (streams with shared pull consumers, acks, naks with delay, redelivery after
 * the ack wait, in-progress acks, max deliveries) and key-value buckets with
 * compare-and-set and watch. `NatsBus` implements it over NATS JetStream,
 * `MemoryBus` in one process with the same semantics; both pass
 * `test/services/bus/BusSuite.ts`. The adapter also tells its users when
 * what they declared may be gone (`infrastructure`): the connection came
 * back (the server may have restarted with an empty store), or an operation
 * found a stream, consumer or bucket missing; `Infrastructure.ts` turns that
 * into recreating them.
 */
import type { Duration, Effect, Option, Scope, Stream } from "effect"
import { Context } from "effect"
import type { Headers } from "@switchyard/schemas/Codec"
import type { BusError, KvConflictError, NoRespondersError, RequestTimeoutError } from "./BusError.ts"

export type { Headers }

/** A message received on a core subject. */
export interface Message {
  readonly subject: string
  readonly data: Uint8Array
  readonly headers: Headers
  /** Reply subject of a request; absent for plain publishes. */
  readonly reply: string | undefined
}

/** A message leased from a work queue; it must be acked, naked or terminated. */
export interface JobMessage {
  readonly subject: string
  readonly data: Uint8Array
  readonly headers: Headers
  /** Stream sequence: stable across redeliveries. */
  readonly seq: number
  /** 1 on first delivery. */
  readonly deliveryCount: number
  /** Done: never deliver again. */
  readonly ack: Effect.Effect<void, BusError>
  /** Not done: deliver again after `delay` (immediately when absent). */
  readonly nak: (delay?: Duration.Input) => Effect.Effect<void, BusError>
  /** Poison: never deliver again; the reason goes to the dead-letter subject. */
  readonly term: (reason: string) => Effect.Effect<void, BusError>
  /** Still working: restart the ack-wait timer. */
  readonly working: Effect.Effect<void, BusError>
}

/** A durable stream of messages, used as a work queue. */
export interface StreamConfig {
  readonly name: string
  readonly subjects: ReadonlyArray<string>
  /** Messages published twice with the same id within this window are stored once. */
  readonly duplicateWindow: Duration.Input
  /** Work queue: a message is removed once acked. */
  readonly retention: "workqueue" | "limits"
}

/** A durable pull consumer shared by all replicas that name it. */
export interface ConsumerConfig {
  readonly stream: string
  readonly durable: string
  readonly filterSubject: string
  /** Lease length: an unacked message is redelivered after this. */
  readonly ackWait: Duration.Input
  /** Deliveries before the message is dropped and reported dead. */
  readonly maxDeliver: number
  /** Leased-but-unacked messages across all replicas. */
  readonly maxAckPending: number
  /**
   * Where the adapter publishes a `DeadLetter` record (core publish, JSON) when
   * a message is terminated or exhausts `maxDeliver`.
   */
  readonly deadLetterSubject?: string
}

/** What lands on a dead-letter subject. */
export interface DeadLetter {
  readonly stream: string
  readonly consumer: string
  readonly seq: number
  readonly subject: string
  readonly deliveries: number
  /** `terminated: <reason>` or `max deliveries exceeded`. */
  readonly reason: string
  /** The original payload, base64; absent when it could no longer be read or was too large to keep. */
  readonly data?: string
  /** Why `data` is absent although the payload was read: the record with it would pass the server's max payload. */
  readonly dataOmitted?: string
  readonly headers: Headers
}

/** Options of `consume`. */
export interface ConsumeOptions {
  readonly stream: string
  readonly durable: string
  /** Messages this replica may hold unacked at once (its free slots). */
  readonly slots: number
}

/** Where a durable consumer stands: what waits for it and what its replicas hold. */
export interface ConsumerStats {
  /** Messages stored for the consumer and not yet delivered (the queue depth). */
  readonly waiting: number
  /** Messages delivered and not yet acknowledged (held by replicas, or waiting for redelivery). */
  readonly ackPending: number
  /** Messages delivered more than once and not yet acknowledged. */
  readonly redelivered: number
}

/** Result of a durable publish. */
export interface PublishAck {
  readonly seq: number
  /** True when the message id was seen within the duplicate window. */
  readonly duplicate: boolean
}

/** One entry of a KV bucket. */
export interface KvEntry {
  readonly key: string
  readonly value: Uint8Array
  readonly revision: number
  readonly operation: "PUT" | "DEL"
}

/** A key-value bucket. */
export interface KvStore {
  readonly bucket: string
  readonly get: (key: string) => Effect.Effect<Option.Option<KvEntry>, BusError>
  /** Unconditional write; returns the new revision. */
  readonly put: (key: string, value: Uint8Array) => Effect.Effect<number, BusError>
  /** Write only when the key does not exist. */
  readonly create: (key: string, value: Uint8Array) => Effect.Effect<number, BusError | KvConflictError>
  /** Write only when the key is at `revision` (compare-and-set). */
  readonly update: (key: string, value: Uint8Array, revision: number) => Effect.Effect<number, BusError | KvConflictError>
  /** Deletes a key, leaving a delete marker that watchers see as a `DEL`. */
  readonly delete: (key: string) => Effect.Effect<void, BusError>
  /**
   * Removes a key and all its history, marker included: nothing of it is left in the bucket,
   * and watchers are not told. For keys nobody watches any more (retention, garbage collection).
   */
  readonly purge: (key: string) => Effect.Effect<void, BusError>
  readonly keys: Effect.Effect<ReadonlyArray<string>, BusError>
  /** Current values first (as PUTs), then every change, for keys matching `key` (wildcards allowed). */
  readonly watch: (options?: { readonly key?: string }) => Stream.Stream<KvEntry, BusError>
}

/**
 * A sign that streams, consumers or buckets a process declared may be gone:
 * `Reconnected` after the connection to the server was lost and came back,
 * `Missing` when an operation found one missing (`resource` names it: a
 * stream, `stream/consumer`, or a subject no stream captures).
 */
export type InfrastructureSignal =
  { readonly _tag: "Reconnected" } | { readonly _tag: "Missing"; readonly resource: string; readonly operation: string }

/** The bus service. */
export class Bus extends Context.Service<
  Bus,
  {
    /** Which adapter this is (`nats` or `memory`). */
    readonly kind: "nats" | "memory"
    /** True while connected to the server (the in-memory bus always is). */
    readonly connected: Effect.Effect<boolean>
    /**
     * The most bytes (payload and headers) one message may have, as the server
     * announced it (NATS `max_payload`); none when the adapter has no limit.
     */
    readonly maxPayload: Effect.Effect<Option.Option<number>>
    readonly publish: (subject: string, data: Uint8Array, options?: { readonly headers?: Headers }) => Effect.Effect<void, BusError>
    /**
     * Subscribes now (messages published after this effect completes are seen)
     * and returns them as a stream; ends when the scope closes. With `queue`,
     * each message goes to one member of the queue group. With `confirm:
     * false` the effect does not wait for the server to confirm the interest:
     * only messages published in answer to something this bus sends after it
     * are sure to be seen (the server takes one connection's commands in
     * order), which saves a round trip before a request that starts them.
     */
    readonly subscribe: (
      subject: string,
      options?: { readonly queue?: string; readonly confirm?: boolean }
    ) => Effect.Effect<Stream.Stream<Message>, BusError, Scope.Scope>
    readonly request: (
      subject: string,
      data: Uint8Array,
      options: { readonly timeout: Duration.Input; readonly headers?: Headers }
    ) => Effect.Effect<Message, BusError | RequestTimeoutError | NoRespondersError>
    /** Answers a request received by `subscribe`. */
    readonly respond: (message: Message, data: Uint8Array, options?: { readonly headers?: Headers }) => Effect.Effect<void, BusError>
    /** Creates the stream, or updates it to this config (idempotent); true when it did not exist. */
    readonly ensureStream: (config: StreamConfig) => Effect.Effect<boolean, BusError>
    /** Creates the durable consumer, or updates it to this config (idempotent); true when it did not exist. */
    readonly ensureConsumer: (config: ConsumerConfig) => Effect.Effect<boolean, BusError>
    /** Creates the KV bucket when it does not exist (idempotent); true when it did not exist. */
    readonly ensureBucket: (bucket: string) => Effect.Effect<boolean, BusError>
    /**
     * Signals from now on that declared streams, consumers or buckets may be
     * gone, as a stream that ends when the scope closes. The in-memory bus
     * loses nothing and never signals.
     */
    readonly infrastructure: Effect.Effect<Stream.Stream<InfrastructureSignal>, never, Scope.Scope>
    /** Durable publish into a stream; `msgId` deduplicates within the stream's window. */
    readonly enqueue: (
      subject: string,
      data: Uint8Array,
      options?: { readonly msgId?: string; readonly headers?: Headers }
    ) => Effect.Effect<PublishAck, BusError>
    /** Leases messages from a durable consumer, never more than `slots` unacked at once by this caller. */
    readonly consume: (options: ConsumeOptions) => Effect.Effect<Stream.Stream<JobMessage>, BusError, Scope.Scope>
    /** Where a durable consumer stands (the server's consumer info). */
    readonly consumerStats: (stream: string, durable: string) => Effect.Effect<ConsumerStats, BusError>
    /** Opens (creating when missing) a KV bucket. Its handle keeps working when the bucket is recreated. */
    readonly kv: (bucket: string) => Effect.Effect<KvStore, BusError>
  }
>()("switchyard/bus/Bus") {}
