/**
 * A stream of the in-memory bus: numbered messages captured from its
 * subjects, the duplicate window keyed by message id, workqueue removal, and
 * the durable consumers reading it (woken whenever a message is stored).
 */
import { Duration } from "effect"
import type { Headers, PublishAck, StreamConfig } from "../Bus.ts"
import type { MemoryConsumer } from "./memoryConsumer.ts"

/** A message held by a stream. */
export interface StoredMessage {
  readonly seq: number
  readonly subject: string
  readonly data: Uint8Array
  readonly headers: Headers
}

/**
 * The stored messages by sequence number. Sequences are consecutive, so this
 * is an array offset by the first live one; workqueue removals leave holes
 * that are dropped once they pile up at the front.
 */
export class MessageLog {
  private items: Array<StoredMessage | undefined> = []
  private base = 1
  private head = 0

  get(seq: number): StoredMessage | undefined {
    const index = seq - this.base
    return index >= this.head ? this.items[index] : undefined
  }

  /** Appends the message with the next sequence number. */
  append(message: StoredMessage): void {
    if (this.items.length === this.head) {
      // Empty: restart at this sequence rather than padding up to it.
      this.items = []
      this.base = message.seq
      this.head = 0
    }
    this.items[message.seq - this.base] = message
  }

  delete(seq: number): void {
    const index = seq - this.base
    if (index < this.head || index >= this.items.length) return
    this.items[index] = undefined
    if (index !== this.head) return
    while (this.head < this.items.length && this.items[this.head] === undefined) this.head++
    if (this.head >= 1024 && this.head * 2 >= this.items.length) {
      this.items = this.items.slice(this.head)
      this.base += this.head
      this.head = 0
    }
  }
}

/** One stream and its consumers. */
export class MemoryStream {
  config: StreamConfig
  readonly messages = new MessageLog()
  readonly consumers = new Map<string, MemoryConsumer>()
  lastSeq = 0
  private windowMs: number
  // Message id -> sequence within the duplicate window; the ids in arrival order with their
  // times say which ones the window has passed.
  private readonly seenIds = new Map<string, number>()
  private seenOrder: Array<string> = []
  private seenAt: Array<number> = []
  private seenHead = 0

  constructor(config: StreamConfig) {
    this.config = config
    this.windowMs = Duration.toMillis(config.duplicateWindow)
  }

  get name(): string {
    return this.config.name
  }

  reconfigure(config: StreamConfig): void {
    this.config = config
    this.windowMs = Duration.toMillis(config.duplicateWindow)
  }

  /** Stores a message unless its id was seen within the window; wakes the consumers. */
  store(subject: string, data: Uint8Array, headers: Headers, msgId: string | undefined, now: number): PublishAck {
    if (msgId !== undefined) {
      this.forgetIdsBefore(now - this.windowMs)
      const seen = this.seenIds.get(msgId)
      if (seen !== undefined) return { seq: seen, duplicate: true }
    }
    const seq = ++this.lastSeq
    this.messages.append({ seq, subject, data, headers })
    if (msgId !== undefined) {
      this.seenIds.set(msgId, seq)
      this.seenOrder.push(msgId)
      this.seenAt.push(now)
    }
    for (const consumer of this.consumers.values()) consumer.dispatch()
    return { seq, duplicate: false }
  }

  /** Drops a message that a workqueue consumer finished with. */
  settled(seq: number): void {
    if (this.config.retention === "workqueue") this.messages.delete(seq)
  }

  // Ids are recorded in time order, so the expired ones are a prefix.
  private forgetIdsBefore(cutoff: number): void {
    while (this.seenHead < this.seenOrder.length && this.seenAt[this.seenHead]! <= cutoff) {
      this.seenIds.delete(this.seenOrder[this.seenHead]!)
      this.seenHead++
    }
    if (this.seenHead >= 1024 && this.seenHead * 2 >= this.seenOrder.length) {
      this.seenOrder = this.seenOrder.slice(this.seenHead)
      this.seenAt = this.seenAt.slice(this.seenHead)
      this.seenHead = 0
    }
  }
}
