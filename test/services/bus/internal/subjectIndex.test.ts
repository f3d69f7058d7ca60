import { assert, describe, it } from "@effect/vitest"
import { SubjectIndex } from "../../../../services/bus/internal/subjectIndex.ts"
import { compileSubject } from "../../../../services/bus/internal/subjectMatch.ts"

/** A small seeded generator, so the comparison below checks the same cases on every run. */
const seeded = (seed: number) => () => {
  seed = (seed + 0x6d2b79f5) | 0
  let t = Math.imul(seed ^ (seed >>> 15), 1 | seed)
  t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296
}

describe("SubjectIndex", () => {
  it("finds the pattern a subject falls under through literal tokens, * and >", () => {
    const index = new SubjectIndex<string>()
    index.add("p.task.run.>", "tasks")
    index.add("p.task.result.*", "results")
    index.add("p.dead.task.run", "dead")
    assert.strictEqual(index.find("p.task.run.pool"), "tasks")
    assert.strictEqual(index.find("p.task.run.pool.extra"), "tasks")
    assert.strictEqual(index.find("p.task.run"), undefined)
    assert.strictEqual(index.find("p.task.result.r1"), "results")
    assert.strictEqual(index.find("p.task.result.r1.x"), undefined)
    assert.strictEqual(index.find("p.dead.task.run"), "dead")
    assert.strictEqual(index.find("p.dead.task"), undefined)
    assert.strictEqual(index.find("q.task.run.pool"), undefined)
  })

  it("tells apart many sibling patterns, and tokens that only share a prefix", () => {
    const index = new SubjectIndex<number>()
    for (let i = 0; i < 20; i++) index.add(`p.pool${i}.>`, i)
    index.add("p.pool", 100)
    for (let i = 0; i < 20; i++) assert.strictEqual(index.find(`p.pool${i}.task`), i)
    assert.strictEqual(index.find("p.pool"), 100)
    assert.strictEqual(index.find("p.pool20.task"), undefined)
    const few = new SubjectIndex<string>()
    few.add("run.event.>", "events")
    few.add("run.eventual", "eventual")
    assert.strictEqual(few.find("run.eventual"), "eventual")
    assert.strictEqual(few.find("run.event.x"), "events")
    assert.strictEqual(few.find("run.even.x"), undefined)
    assert.strictEqual(few.find("run.eventually.x"), undefined)
  })

  it("prefers the pattern added first when several match, and forgets them all on clear", () => {
    const index = new SubjectIndex<number>()
    index.add("a.>", 1)
    index.add("a.*", 2)
    index.add("a.b", 3)
    assert.strictEqual(index.find("a.b"), 1)
    index.clear()
    assert.strictEqual(index.find("a.b"), undefined)
    index.add("a.b", 3)
    index.add("a.*", 2)
    assert.strictEqual(index.find("a.b"), 3)
    assert.strictEqual(index.find("a.c"), 2)
  })

  it("answers as the compiled matchers do for any mix of patterns and subjects, odd ones included", () => {
    const random = seeded(42)
    const pick = <A>(items: ReadonlyArray<A>) => items[Math.floor(random() * items.length)]!
    const join = (tokens: ReadonlyArray<string>, max: number) =>
      Array.from({ length: 1 + Math.floor(random() * max) }, () => pick(tokens)).join(".")
    let compared = 0
    for (let trial = 0; trial < 2_000; trial++) {
      const patterns = Array.from({ length: 1 + Math.floor(random() * 5) }, () => join(["a", "b", "*", ">", ""], 4))
      const index = new SubjectIndex<number>()
      patterns.forEach((pattern, i) => index.add(pattern, i))
      const matchers = patterns.map(compileSubject)
      for (let k = 0; k < 50; k++) {
        const subject = random() < 0.05 ? "" : join(["a", "b", "c", ""], 5)
        const expected = matchers.findIndex((matches) => matches(subject))
        assert.strictEqual(
          index.find(subject),
          expected === -1 ? undefined : expected,
          `${JSON.stringify(patterns)} ${JSON.stringify(subject)}`
        )
        compared++
      }
    }
    assert.strictEqual(compared, 100_000)
  })
})
