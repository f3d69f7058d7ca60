import { assert, describe, it } from "@effect/vitest"
import type { Message } from "../../../../services/bus/Bus.ts"
import { makeSubscriber, MemoryRouter } from "../../../../services/bus/internal/memoryRouter.ts"

const message = (subject: string, text = subject): Message => ({
  subject,
  data: new TextEncoder().encode(text),
  headers: {},
  reply: undefined
})

/** A subscriber that records, in one shared log, who received which subject. */
const recorder = (log: Array<string>) => (name: string, pattern: string, queue?: string) =>
  makeSubscriber(pattern, queue, (received) => log.push(`${name}:${received.subject}`))

describe("MemoryRouter", () => {
  it("delivers to a literal subscriber that arrives after its subject was routed, and stops once it leaves", () => {
    const log: Array<string> = []
    const router = new MemoryRouter()
    const subscriber = recorder(log)("late", "run.event.r1")
    router.route(message("run.event.r1"))
    assert.isFalse(router.hasInterest("run.event.r1"))
    router.add(subscriber)
    assert.isTrue(router.hasInterest("run.event.r1"))
    router.route(message("run.event.r1"))
    router.remove(subscriber)
    router.route(message("run.event.r1"))
    assert.deepStrictEqual(log, ["late:run.event.r1"])
    assert.isFalse(router.hasInterest("run.event.r1"))
  })

  it("reaches a second subscriber of a subject already routed to the first, and only the first once it leaves", () => {
    const log: Array<string> = []
    const make = recorder(log)
    const router = new MemoryRouter()
    router.add(make("first", "run.event.r1"))
    router.route(message("run.event.r1"))
    const second = make("second", "run.event.r1")
    router.add(second)
    router.route(message("run.event.r1"))
    router.remove(second)
    router.route(message("run.event.r1"))
    assert.deepStrictEqual(log, ["first:run.event.r1", "first:run.event.r1", "second:run.event.r1", "first:run.event.r1"])
  })

  it("reaches a newcomer on a subject nobody listened to, with many wildcard subscriptions elsewhere", () => {
    const log: Array<string> = []
    const make = recorder(log)
    const router = new MemoryRouter()
    for (let i = 0; i < 20; i++) router.add(make(`w${i}`, `other${i}.>`))
    router.route(message("run.event.r1"))
    router.add(make("late", "run.event.r1"))
    router.route(message("run.event.r1"))
    assert.deepStrictEqual(log, ["late:run.event.r1"])
  })

  it("leaves the routes of other subjects alone when a literal subscription comes or goes", () => {
    const log: Array<string> = []
    const make = recorder(log)
    const router = new MemoryRouter()
    router.add(make("a", "run.event.a"))
    const b = make("b", "run.event.b")
    router.route(message("run.event.a"))
    router.add(b)
    router.route(message("run.event.a"))
    router.route(message("run.event.b"))
    router.remove(b)
    router.route(message("run.event.a"))
    router.route(message("run.event.b"))
    assert.deepStrictEqual(log, ["a:run.event.a", "a:run.event.a", "b:run.event.b", "a:run.event.a"])
  })

  it("sends a message to the literal and wildcard subscribers of its subject in the order they subscribed", () => {
    const log: Array<string> = []
    const make = recorder(log)
    const router = new MemoryRouter()
    router.add(make("first", "run.event.r1"))
    router.add(make("all", "run.event.*"))
    router.add(make("second", "run.event.r1"))
    router.add(make("tail", "run.>"))
    router.add(make("other", "task.>"))
    router.route(message("run.event.r1"))
    router.route(message("run.event.r2"))
    assert.deepStrictEqual(log, [
      "first:run.event.r1",
      "all:run.event.r1",
      "second:run.event.r1",
      "tail:run.event.r1",
      "all:run.event.r2",
      "tail:run.event.r2"
    ])
  })

  it("picks up a wildcard subscription for subjects it already routed, and drops it again", () => {
    const log: Array<string> = []
    const make = recorder(log)
    const router = new MemoryRouter()
    router.add(make("literal", "ledger.update.r1"))
    router.route(message("ledger.update.r1"))
    const wildcard = make("wildcard", "ledger.update.*")
    router.add(wildcard)
    router.route(message("ledger.update.r1"))
    router.route(message("ledger.update.r2"))
    router.remove(wildcard)
    router.route(message("ledger.update.r1"))
    router.route(message("ledger.update.r2"))
    assert.deepStrictEqual(log, [
      "literal:ledger.update.r1",
      "literal:ledger.update.r1",
      "wildcard:ledger.update.r1",
      "wildcard:ledger.update.r2",
      "literal:ledger.update.r1"
    ])
  })

  it("rotates one queue group across its literal and wildcard members, next to plain subscribers", () => {
    const log: Array<string> = []
    const make = recorder(log)
    const router = new MemoryRouter()
    router.add(make("m1", "work.x", "pool"))
    router.add(make("m2", "work.*", "pool"))
    router.add(make("m3", "work.>", "pool"))
    router.add(make("plain", "work.x"))
    for (let i = 0; i < 6; i++) router.route(message("work.x", String(i)))
    const members = log.filter((entry) => !entry.startsWith("plain"))
    assert.deepStrictEqual(members, ["m1:work.x", "m2:work.x", "m3:work.x", "m1:work.x", "m2:work.x", "m3:work.x"])
    assert.strictEqual(log.filter((entry) => entry.startsWith("plain")).length, 6)
  })

  it("ignores a subscriber added twice or removed when it never subscribed", () => {
    const log: Array<string> = []
    const make = recorder(log)
    const router = new MemoryRouter()
    const once = make("once", "a.b")
    router.add(once)
    router.add(once)
    router.remove(make("stranger", "a.b"))
    router.route(message("a.b"))
    assert.deepStrictEqual(log, ["once:a.b"])
  })
})
