/**
 * Core subject routing of the in-memory bus: plain subscribers get every
 * matching message, each queue group (by name, across matching subjects) one
 * member per message in turn. Routes are cached per subject and dropped when
 * a subscription comes or goes.
 */
import type { Message } from "../Bus.ts"
import { compileSubject, type SubjectMatcher } from "./subjectMatch.ts"

/** One subscription: where matching messages are handed. */
export interface Subscriber {
  readonly pattern: string
  readonly matches: SubjectMatcher
  readonly queue: string | undefined
  readonly deliver: (message: Message) => void
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

/** Builds a subscriber for a pattern. */
export const makeSubscriber = (
  pattern: string,
  queue: string | undefined,
  deliver: (message: Message) => void
): Subscriber => ({ pattern, matches: compileSubject(pattern), queue, deliver })

/** The subscription table. */
export class MemoryRouter {
  private readonly subscribers = new Set<Subscriber>()
  private readonly routes = new Map<string, Route>()

  add(subscriber: Subscriber): void {
    this.subscribers.add(subscriber)
    this.routes.clear()
  }

  remove(subscriber: Subscriber): void {
    if (this.subscribers.delete(subscriber)) this.routes.clear()
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
    let route = emptyRoute
    if (this.subscribers.size > 0) {
      const plain: Array<Subscriber> = []
      const groups = new Map<string, QueueGroup>()
      for (const subscriber of this.subscribers) {
        if (!subscriber.matches(subject)) continue
        if (subscriber.queue === undefined) {
          plain.push(subscriber)
        } else {
          const group = groups.get(subscriber.queue)
          if (group === undefined) groups.set(subscriber.queue, { members: [subscriber], next: 0 })
          else group.members.push(subscriber)
        }
      }
      if (plain.length > 0 || groups.size > 0) route = { plain, groups: [...groups.values()] }
    }
    if (this.routes.size >= maxCachedRoutes) this.routes.clear()
    this.routes.set(subject, route)
    return route
  }
}
