/**
 * A stream of the in-memory bus: numbered messages captured from its
 * subjects, the duplicate window keyed by message id, workqueue removal, and
 * the durable consumers reading it (woken whenever a message is stored).
 */
import { Duration } from "effect"
import type { Headers, PublishAck, StreamConfig } from "../Bus.ts"
import type { MemoryConsumer } from "./memoryConsumer.ts"
import { compileSubject, type SubjectMatcher } from "./subjectMatch.ts"

/** A message held by a stream. */
export interface StoredMessage {
  readonly seq: number
  readonly subject: string
  readonly data: Uint8Array
  readonly headers: Headers
}

interface SeenId {
  readonly seq: number
  readonly at: number
}

/** One stream and its consumers. */
export class MemoryStream {
  config: StreamConfig
  readonly messages = new Map<number, StoredMessage>()
  readonly consumers = new Map<string, MemoryConsumer>()
  lastSeq = 0
  private matchers: ReadonlyArray<SubjectMatcher>
  private windowMs: number
  private readonly seenIds = new Map<string, SeenId>()

  constructor(config: StreamConfig) {
    this.config = config
    this.matchers = config.subjects.map(compileSubject)
    this.windowMs = Duration.toMillis(config.duplicateWindow)
  }

  get name(): string {
    return this.config.name
  }

  reconfigure(config: StreamConfig): void {
    this.config = config
    this.matchers = config.subjects.map(compileSubject)
    this.windowMs = Duration.toMillis(config.duplicateWindow)
  }

  /** True when a publish on `subject` is captured by this stream. */
  captures(subject: string): boolean {
    for (const matches of this.matchers) if (matches(subject)) return true
    return false
  }

  /** Stores a message unless its id was seen within the window; wakes the consumers. */
  store(subject: string, data: Uint8Array, headers: Headers, msgId: string | undefined, now: number): PublishAck {
    if (msgId !== undefined) {
      this.forgetIdsBefore(now - this.windowMs)
      const seen = this.seenIds.get(msgId)
      if (seen !== undefined) return { seq: seen.seq, duplicate: true }
    }
    const seq = ++this.lastSeq
    this.messages.set(seq, { seq, subject, data, headers })
    if (msgId !== undefined) this.seenIds.set(msgId, { seq, at: now })
    for (const consumer of this.consumers.values()) consumer.dispatch()
    return { seq, duplicate: false }
  }

  /** Drops a message that a workqueue consumer finished with. */
  settled(seq: number): void {
    if (this.config.retention === "workqueue") this.messages.delete(seq)
  }

  // Ids are inserted in time order, so the expired ones are a prefix of the map.
  private forgetIdsBefore(cutoff: number): void {
    for (const [id, seen] of this.seenIds) {
      if (seen.at > cutoff) return
      this.seenIds.delete(id)
    }
  }
}
