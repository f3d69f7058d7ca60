/**
 * A durable consumer of the in-memory bus with JetStream's pull semantics:
 * callers of `consume` share it and each message is leased to one of them;
 * a lease ends with an ack, a nak (redelivery now or after a delay), a term,
 * or the ack wait running out (redelivery); `working` restarts the ack wait.
 * After `maxDeliver` deliveries a message is dropped and reported on the
 * dead-letter subject, as is every terminated one. `maxAckPending` bounds the
 * unacked messages of the consumer, `slots` those held by one caller.
 *
 * Everything runs synchronously in the publishing or acking fiber; one timer
 * fiber per consumer, driven by the Clock, handles ack-wait expiry and
 * delayed naks. Leases sit in a Set in deadline order (the ack wait is the
 * same for all), so the timer only looks at the head.
 */
import { type Clock, Duration, Effect } from "effect"
import type { ConsumerConfig, ConsumerStats, Headers, JobMessage } from "../Bus.ts"
import { encodeDeadLetter, maxDeliveriesReason, terminatedReason } from "./deadLetter.ts"
import type { MemoryStream, StoredMessage } from "./memoryStream.ts"
import { compileSubject, type SubjectMatcher } from "./subjectMatch.ts"
import { TimerLoop } from "../timers/index.ts"

/** A caller of `consume`: its free slots and where its messages go. */
export interface ConsumeCaller {
  readonly slots: number
  held: number
  readonly offer: (job: JobMessage) => void
}

interface Pending {
  readonly message: StoredMessage
  deliveries: number
  /** The lease that may nak or extend it; undefined while waiting for redelivery. */
  current: MemoryJob | undefined
}

interface Delayed {
  readonly at: number
  readonly seq: number
}

/** One delivery of a message to a caller. */
class MemoryJob implements JobMessage {
  readonly subject: string
  readonly data: Uint8Array
  readonly headers: Headers
  readonly seq: number
  readonly deliveryCount: number
  readonly consumer: MemoryConsumer
  readonly caller: ConsumeCaller
  active = true
  deadline: number

  constructor(consumer: MemoryConsumer, pending: Pending, caller: ConsumeCaller, deadline: number) {
    this.consumer = consumer
    this.caller = caller
    this.deadline = deadline
    this.subject = pending.message.subject
    this.data = pending.message.data
    this.headers = pending.message.headers
    this.seq = pending.message.seq
    this.deliveryCount = pending.deliveries
  }

  get ack(): Effect.Effect<void> {
    return Effect.sync(() => this.consumer.ack(this))
  }

  get nak(): (delay?: Duration.Input) => Effect.Effect<void> {
    return (delay) => Effect.sync(() => this.consumer.nak(this, delay === undefined ? 0 : Duration.toMillis(delay)))
  }

  get term(): (reason: string) => Effect.Effect<void> {
    return (reason) => Effect.sync(() => this.consumer.term(this, reason))
  }

  get working(): Effect.Effect<void> {
    return Effect.sync(() => this.consumer.working(this))
  }
}

/** One durable consumer. */
export class MemoryConsumer {
  config: ConsumerConfig
  private readonly stream: MemoryStream
  private readonly timerLoop: TimerLoop
  private readonly deadLetter: (subject: string, record: Uint8Array) => void
  private ackWaitMs: number
  private filter: SubjectMatcher
  private readonly pending = new Map<number, Pending>()
  private readonly leases = new Set<MemoryJob>()
  private readonly delayed: Array<Delayed> = []
  private redeliver: Array<number> = []
  private redeliverHead = 0
  private nextSeq = 1
  private readonly callers: Array<ConsumeCaller> = []
  private nextCaller = 0
  private dispatching = false

  constructor(options: {
    readonly stream: MemoryStream
    readonly config: ConsumerConfig
    readonly clock: Clock.Clock
    readonly deadLetter: (subject: string, record: Uint8Array) => void
  }) {
    this.stream = options.stream
    this.config = options.config
    this.timerLoop = new TimerLoop(options.clock, (now) => this.expire(now))
    this.deadLetter = options.deadLetter
    this.ackWaitMs = Duration.toMillis(options.config.ackWait)
    this.filter = compileFilter(options.config.filterSubject)
  }

  reconfigure(config: ConsumerConfig): void {
    this.config = config
    this.ackWaitMs = Duration.toMillis(config.ackWait)
    this.filter = compileFilter(config.filterSubject)
    this.dispatch()
  }

  addCaller(caller: ConsumeCaller): void {
    this.callers.push(caller)
    this.dispatch()
  }

  removeCaller(caller: ConsumeCaller): void {
    const index = this.callers.indexOf(caller)
    if (index >= 0) this.callers.splice(index, 1)
  }

  /** Hands out messages while some caller has a free slot and the consumer may lease more. */
  dispatch(): void {
    if (this.dispatching || this.callers.length === 0) return
    this.dispatching = true
    while (true) {
      const caller = this.freeCaller()
      if (caller === undefined) break
      const pending = this.nextPending()
      if (pending === undefined) break
      this.deliver(pending, caller)
    }
    this.dispatching = false
  }

  ack(job: MemoryJob): void {
    this.release(job)
    this.settle(job.seq)
    this.dispatch()
  }

  nak(job: MemoryJob, delayMs: number): void {
    const pending = this.pending.get(job.seq)
    const isCurrent = pending !== undefined && pending.current === job
    this.release(job)
    if (isCurrent) {
      pending.current = undefined
      if (this.exhausted(pending)) {
        this.drop(pending, maxDeliveriesReason)
      } else if (delayMs > 0) {
        this.delay(job.seq, this.timerLoop.now() + delayMs)
      } else {
        this.redeliver.push(job.seq)
      }
    }
    this.dispatch()
  }

  term(job: MemoryJob, reason: string): void {
    this.release(job)
    const pending = this.pending.get(job.seq)
    if (pending !== undefined) this.drop(pending, terminatedReason(reason))
    this.dispatch()
  }

  working(job: MemoryJob): void {
    if (!job.active) return
    job.deadline = this.timerLoop.now() + this.ackWaitMs
    this.leases.delete(job)
    this.leases.add(job)
  }

  /** Where the consumer stands, counted as the NATS server counts it. */
  stats(): ConsumerStats {
    let waiting = 0
    let ackPending = 0
    let redelivered = 0
    for (const pending of this.pending.values()) {
      if (pending.deliveries === 0) waiting++
      else ackPending++
      if (pending.deliveries > 1) redelivered++
    }
    // And what the stream holds for it that it has not taken up yet.
    for (let seq = this.nextSeq; seq <= this.stream.lastSeq; seq++) {
      const message = this.stream.messages.get(seq)
      if (message !== undefined && this.filter(message.subject)) waiting++
    }
    return { waiting, ackPending, redelivered }
  }

  /** The timer fiber: expires leases and releases delayed naks as the Clock passes their time. */
  get timer(): Effect.Effect<never> {
    return this.timerLoop.run
  }

  private freeCaller(): ConsumeCaller | undefined {
    const count = this.callers.length
    for (let i = 0; i < count; i++) {
      const caller = this.callers[(this.nextCaller + i) % count]!
      if (caller.held < caller.slots) {
        this.nextCaller = (this.nextCaller + i + 1) % count
        return caller
      }
    }
    return undefined
  }

  // Redeliveries come first and are already counted against maxAckPending.
  private nextPending(): Pending | undefined {
    while (this.redeliverHead < this.redeliver.length) {
      const seq = this.redeliver[this.redeliverHead++]!
      if (this.redeliverHead === this.redeliver.length) {
        this.redeliver = []
        this.redeliverHead = 0
      }
      const pending = this.pending.get(seq)
      if (pending !== undefined && pending.current === undefined) return pending
    }
    const maxAckPending = this.config.maxAckPending
    if (maxAckPending > 0 && this.pending.size >= maxAckPending) return undefined
    const messages = this.stream.messages
    while (this.nextSeq <= this.stream.lastSeq) {
      const message = messages.get(this.nextSeq++)
      if (message === undefined || !this.filter(message.subject)) continue
      const pending: Pending = { message, deliveries: 0, current: undefined }
      this.pending.set(message.seq, pending)
      return pending
    }
    return undefined
  }

  private deliver(pending: Pending, caller: ConsumeCaller): void {
    pending.deliveries++
    const job = new MemoryJob(this, pending, caller, this.timerLoop.now() + this.ackWaitMs)
    pending.current = job
    this.leases.add(job)
    caller.held++
    this.timerLoop.arm(job.deadline)
    caller.offer(job)
  }

  private release(job: MemoryJob): void {
    if (!job.active) return
    job.active = false
    job.caller.held--
    this.leases.delete(job)
  }

  private settle(seq: number): void {
    if (this.pending.delete(seq)) this.stream.settled(seq)
  }

  private exhausted(pending: Pending): boolean {
    return this.config.maxDeliver > 0 && pending.deliveries >= this.config.maxDeliver
  }

  private drop(pending: Pending, reason: string): void {
    const { message } = pending
    if (pending.current !== undefined) this.release(pending.current)
    this.settle(message.seq)
    const subject = this.config.deadLetterSubject
    if (subject === undefined) return
    this.deadLetter(
      subject,
      encodeDeadLetter({
        stream: this.stream.name,
        consumer: this.config.durable,
        seq: message.seq,
        subject: message.subject,
        deliveries: pending.deliveries,
        reason,
        data: message.data,
        headers: message.headers
      })
    )
  }

  private delay(seq: number, at: number): void {
    let index = this.delayed.length
    while (index > 0 && this.delayed[index - 1]!.at > at) index--
    this.delayed.splice(index, 0, { at, seq })
    this.timerLoop.arm(at)
  }

  // Returns when the timer should look again, or undefined when nothing is leased or delayed.
  private expire(now: number): number | undefined {
    for (const job of this.leases) {
      if (job.deadline > now) break
      this.release(job)
      const pending = this.pending.get(job.seq)
      if (pending === undefined || pending.current !== job) continue
      pending.current = undefined
      if (this.exhausted(pending)) this.drop(pending, maxDeliveriesReason)
      else this.redeliver.push(job.seq)
    }
    let due = 0
    while (due < this.delayed.length && this.delayed[due]!.at <= now) {
      const { seq } = this.delayed[due++]!
      const pending = this.pending.get(seq)
      if (pending !== undefined && pending.current === undefined) this.redeliver.push(seq)
    }
    if (due > 0) this.delayed.splice(0, due)
    this.dispatch()
    let next: number | undefined = undefined
    for (const job of this.leases) {
      next = job.deadline
      break
    }
    const firstDelayed = this.delayed[0]
    if (firstDelayed !== undefined && (next === undefined || firstDelayed.at < next)) next = firstDelayed.at
    return next
  }
}

const compileFilter = (filterSubject: string): SubjectMatcher =>
  filterSubject === "" || filterSubject === ">" ? () => true : compileSubject(filterSubject)
