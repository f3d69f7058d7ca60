import { assert, describe, it } from "@effect/vitest"
import { encodeKey } from "../../../../services/registry/internal/kvKey.ts"

const validKey = /^[-/=.\w]+$/

describe("KV key encoding", () => {
  it("leaves stage type names as they are", () => {
    for (const type of ["ingest", "hello.greet", "acme/http.get", "a_b-c"]) {
      assert.strictEqual(encodeKey(type, { dots: "keep" }), type)
    }
  })

  it("escapes characters NATS keys refuse, the escape character itself, and edge or doubled dots", () => {
    assert.strictEqual(encodeKey("a b", { dots: "keep" }), "a=20b")
    assert.strictEqual(encodeKey("x=y", { dots: "keep" }), "x=3Dy")
    assert.strictEqual(encodeKey(".a..b.", { dots: "keep" }), "=2Ea.=2Eb=2E")
    assert.strictEqual(encodeKey("a.b", { dots: "escape" }), "a=2Eb")
    assert.strictEqual(encodeKey("é", { dots: "keep" }), "=C3=A9")
    assert.strictEqual(encodeKey("", { dots: "keep" }), "=")
  })

  it("maps distinct strings to distinct valid keys", () => {
    const inputs = ["a b", "a=20b", "a_b", "a.b", "a=2Eb", ".", "..", "=", "=3D", "*", ">", "", "\u0000", "日本"]
    for (const dots of ["keep", "escape"] as const) {
      const keys = inputs.map((input) => encodeKey(input, { dots }))
      assert.strictEqual(new Set(keys).size, inputs.length, keys.join(" "))
      for (const key of keys) {
        assert.match(key, validKey)
        assert.isFalse(key.startsWith(".") || key.endsWith(".") || key.includes(".."), key)
      }
    }
  })
})
