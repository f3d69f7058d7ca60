/**
 * Core subject routing of the in-memory bus: plain subscribers get every
 * matching message, each queue group (by name, across matching subjects) one
 * member per message in turn.
 *
 * Subscriptions to literal subjects (per-run event subjects, request inboxes)
 * come and go all the time, wildcard ones rarely. Literal subscribers are
 * indexed by subject, so one coming or going touches only the cached route of
 * that subject; only a wildcard subscription coming or going drops the whole
 * route cache. A route is built from the subject's literal subscribers and
 * the wildcard ones that match it, in subscription order.
 */
import type { Message } from "../Bus.ts"
import { compileSubject, hasWildcard, type SubjectMatcher } from "./subjectMatch.ts"

/** One subscription: where matching messages are handed. */
export interface Subscriber {
  readonly pattern: string
  readonly matches: SubjectMatcher
  readonly queue: string | undefined
  readonly deliver: (message: Message) => void
  /** Whether the pattern has `*` or `>` tokens. */
  readonly wildcard: boolean
  /** Position in subscription order while subscribed, -1 otherwise (kept by the router). */
  order: number
}

interface QueueGroup {
  readonly members: Array<Subscriber>
  next: number
}

interface Route {
  readonly plain: ReadonlyArray<Subscriber>
  readonly groups: ReadonlyArray<QueueGroup>
}

const emptyRoute: Route = { plain: [], groups: [] }
const maxCachedRoutes = 10_000
/** Up to this many wildcard subscriptions, a subject nobody listens to is not cached. */
const cheapWildcardScan = 8

/** Builds a subscriber for a pattern. */
export const makeSubscriber = (pattern: string, queue: string | undefined, deliver: (message: Message) => void): Subscriber => ({
  pattern,
  matches: compileSubject(pattern),
  queue,
  deliver,
  wildcard: hasWildcard(pattern),
  order: -1
})

/** The subscription table. */
export class MemoryRouter {
  // Subscription order, kept across both indexes so routes list subscribers as they came.
  private nextOrder = 0
  private readonly literal = new Map<string, Array<Subscriber>>()
  private readonly wildcards = new Set<Subscriber>()
  private readonly routes = new Map<string, Route>()

  add(subscriber: Subscriber): void {
    if (subscriber.order >= 0) return
    subscriber.order = this.nextOrder++
    if (subscriber.wildcard) {
      this.wildcards.add(subscriber)
      this.routes.clear()
      return
    }
    const list = this.literal.get(subscriber.pattern)
    if (list === undefined) this.literal.set(subscriber.pattern, [subscriber])
    else list.push(subscriber)
    this.routes.delete(subscriber.pattern)
  }

  remove(subscriber: Subscriber): void {
    if (subscriber.order < 0) return
    subscriber.order = -1
    if (subscriber.wildcard) {
      this.wildcards.delete(subscriber)
      this.routes.clear()
      return
    }
    const list = this.literal.get(subscriber.pattern)
    if (list !== undefined) {
      const index = list.indexOf(subscriber)
      if (index >= 0) list.splice(index, 1)
      if (list.length === 0) this.literal.delete(subscriber.pattern)
    }
    this.routes.delete(subscriber.pattern)
  }

  /** True when a publish on `subject` would reach someone. */
  hasInterest(subject: string): boolean {
    const route = this.routeOf(subject)
    return route.plain.length > 0 || route.groups.length > 0
  }

  /** Delivers to every plain subscriber and one member of each queue group. */
  route(message: Message): void {
    const route = this.routeOf(message.subject)
    for (const subscriber of route.plain) subscriber.deliver(message)
    for (const group of route.groups) {
      const member = group.members[group.next % group.members.length]!
      group.next = (group.next + 1) % group.members.length
      member.deliver(message)
    }
  }

  private routeOf(subject: string): Route {
    const cached = this.routes.get(subject)
    if (cached !== undefined) return cached
    const route = this.build(subject)
    // Nobody listening is cheaper to find out again than to remember for every such subject.
    if (route === emptyRoute && this.wildcards.size <= cheapWildcardScan) return route
    if (this.routes.size >= maxCachedRoutes) this.routes.clear()
    this.routes.set(subject, route)
    return route
  }

  private build(subject: string): Route {
    const literal = this.literal.get(subject)
    let matching: ReadonlyArray<Subscriber> = literal ?? []
    if (this.wildcards.size > 0) {
      const wild: Array<Subscriber> = []
      for (const subscriber of this.wildcards) if (subscriber.matches(subject)) wild.push(subscriber)
      if (wild.length > 0) matching = literal === undefined ? wild : this.merge(literal, wild)
    }
    if (matching.length === 0) return emptyRoute
    const plain: Array<Subscriber> = []
    const groups = new Map<string, QueueGroup>()
    for (const subscriber of matching) {
      if (subscriber.queue === undefined) {
        plain.push(subscriber)
      } else {
        const group = groups.get(subscriber.queue)
        if (group === undefined) groups.set(subscriber.queue, { members: [subscriber], next: 0 })
        else group.members.push(subscriber)
      }
    }
    return { plain, groups: [...groups.values()] }
  }

  // Both lists are in subscription order; the result is too.
  private merge(left: ReadonlyArray<Subscriber>, right: ReadonlyArray<Subscriber>): Array<Subscriber> {
    const merged: Array<Subscriber> = []
    let i = 0
    let j = 0
    while (i < left.length && j < right.length) {
      if (left[i]!.order < right[j]!.order) merged.push(left[i++]!)
      else merged.push(right[j++]!)
    }
    while (i < left.length) merged.push(left[i++]!)
    while (j < right.length) merged.push(right[j++]!)
    return merged
  }
}
