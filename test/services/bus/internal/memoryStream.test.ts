import { assert, describe, it } from "@effect/vitest"
import { MemoryStream, MessageLog } from "../../../../services/bus/internal/memoryStream.ts"

const data = new Uint8Array([1])
const stored = (seq: number) => ({ seq, subject: `s.${seq}`, data, headers: {} })

const workqueue = () => new MemoryStream({ name: "JOBS", subjects: ["jobs.>"], duplicateWindow: "1 minute", retention: "workqueue" })

describe("MessageLog", () => {
  it("keeps every message not yet removed readable by sequence while thousands of others go", () => {
    const log = new MessageLog()
    for (let seq = 1; seq <= 5_000; seq++) log.append(stored(seq))
    // Remove all but every 1000th, out of order, so holes pile up at the front and in the middle.
    for (let seq = 5_000; seq >= 1; seq--) if (seq % 1_000 !== 0) log.delete(seq)
    for (let seq = 1; seq <= 5_000; seq++) {
      assert.strictEqual(log.get(seq)?.subject, seq % 1_000 === 0 ? `s.${seq}` : undefined, `seq ${seq}`)
    }
    for (let seq = 5_001; seq <= 7_000; seq++) log.append(stored(seq))
    for (const seq of [1_000, 2_000, 3_000]) log.delete(seq)
    assert.strictEqual(log.get(4_000)?.seq, 4_000)
    assert.strictEqual(log.get(6_500)?.seq, 6_500)
    assert.strictEqual(log.get(3_000), undefined)
    assert.strictEqual(log.get(7_001), undefined)
    log.delete(3_000)
    log.delete(9_999)
    assert.strictEqual(log.get(5_000)?.seq, 5_000)
  })

  it("starts over at the next sequence once every message was removed", () => {
    const log = new MessageLog()
    for (let seq = 1; seq <= 3; seq++) log.append(stored(seq))
    for (let seq = 1; seq <= 3; seq++) log.delete(seq)
    log.append(stored(4))
    assert.strictEqual(log.get(4)?.seq, 4)
    assert.strictEqual(log.get(3), undefined)
  })
})

describe("MemoryStream", () => {
  it("removes settled messages of a workqueue and keeps the others", () => {
    const stream = workqueue()
    const first = stream.store("jobs.a", data, {}, undefined, 0)
    const second = stream.store("jobs.b", data, {}, undefined, 0)
    stream.settled(first.seq)
    assert.strictEqual(stream.messages.get(first.seq), undefined)
    assert.strictEqual(stream.messages.get(second.seq)?.subject, "jobs.b")
  })

  it("stores a message id once within the window, across thousands of ids, and forgets each as its window passes", () => {
    const stream = workqueue()
    const firstSeq = new Map<string, number>()
    // 3000 ids, one per 10 ms: the one-minute window spans the last 6000 of them.
    for (let i = 0; i < 3_000; i++) {
      const ack = stream.store("jobs.a", data, {}, `id-${i}`, i * 10)
      assert.isFalse(ack.duplicate)
      firstSeq.set(`id-${i}`, ack.seq)
      stream.settled(ack.seq)
    }
    const now = 2_999 * 10
    const again = (i: number, at: number) => stream.store("jobs.a", data, {}, `id-${i}`, at)
    assert.deepStrictEqual(again(2_999, now), { seq: firstSeq.get("id-2999")!, duplicate: true })
    assert.deepStrictEqual(again(0, now), { seq: firstSeq.get("id-0")!, duplicate: true })
    // 60 s after id-0 its window has passed; id-1 (10 ms later) is still inside its own.
    assert.isFalse(again(0, 60_000).duplicate)
    assert.isTrue(again(1, 60_000).duplicate)
    // Much later every old id is forgotten, and the ids just stored again are remembered.
    const late = 60_000 + 29_990 + 60_001
    for (const i of [5, 1_500, 2_999]) assert.isFalse(again(i, late).duplicate, `id-${i}`)
    assert.isTrue(again(1_500, late).duplicate)
  })
})
