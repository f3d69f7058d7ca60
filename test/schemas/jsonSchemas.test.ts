import { NodeServices } from "@effect/platform-node"
import { assert, describe, it } from "@effect/vitest"
import { Effect, FileSystem, Path } from "effect"
import { catalog, jsonSchemaFileName, renderJsonSchema, toJsonSchema } from "../../schemas/Catalog.ts"

const jsonDir = Effect.gen(function* () {
  const path = yield* Path.Path
  return path.join(import.meta.dirname, "..", "..", "schemas", "json")
})

describe("checked-in JSON Schema files", () => {
  for (const entry of catalog) {
    it.effect(`${jsonSchemaFileName(entry)} matches what the generator produces from ${entry.name}`, () =>
      Effect.gen(function* () {
        const fs = yield* FileSystem.FileSystem
        const path = yield* Path.Path
        const file = path.join(yield* jsonDir, jsonSchemaFileName(entry))
        const exists = yield* fs.exists(file)
        assert.isTrue(exists, `schemas/json/${jsonSchemaFileName(entry)} is missing; run npm run schemas:generate`)
        const checkedIn = yield* fs.readFileString(file)
        assert.strictEqual(
          checkedIn,
          renderJsonSchema(entry),
          `schemas/json/${jsonSchemaFileName(entry)} is out of date with schemas/${entry.name}; run npm run schemas:generate`
        )
      }).pipe(Effect.provide(NodeServices.layer))
    )
  }

  it.effect("holds no file for a schema that is not in the catalog", () =>
    Effect.gen(function* () {
      const fs = yield* FileSystem.FileSystem
      const files = (yield* fs.readDirectory(yield* jsonDir)).filter((file) => file.endsWith(".schema.json"))
      const known = new Set(catalog.map(jsonSchemaFileName))
      assert.deepStrictEqual(
        files.filter((file) => !known.has(file)),
        [],
        "stale files in schemas/json; run npm run schemas:generate"
      )
    }).pipe(Effect.provide(NodeServices.layer))
  )

  it("declares draft 2020-12 with a unique $id and a title on every document", () => {
    const ids = new Set<unknown>()
    for (const entry of catalog) {
      const document = toJsonSchema(entry)
      assert.strictEqual(document["$schema"], "https://json-schema.org/draft/2020-12/schema")
      assert.strictEqual(document["title"], entry.name)
      assert.isFalse(ids.has(document["$id"]), `duplicate $id ${String(document["$id"])}`)
      ids.add(document["$id"])
    }
  })

  it("describes numbers as plain JSON numbers, not Effect's non-finite strings", () => {
    const text = catalog.map(renderJsonSchema).join("")
    assert.notInclude(text, "Infinity")
    const event = toJsonSchema(catalog.find((entry) => entry.name === "RunEvent")!)
    const finished = (event["$defs"] as Record<string, { readonly properties: Record<string, unknown> }>)["StageFinished"]
    assert.deepStrictEqual(finished?.properties["at"], { type: "number" })
  })

  it("keeps name patterns so other languages can check stage types and versions", () => {
    const metadata = toJsonSchema(catalog.find((entry) => entry.name === "StageMetadata")!)
    const properties = metadata["properties"] as Record<string, { readonly pattern?: string }>
    assert.isString(properties["type"]?.pattern)
    assert.isTrue(new RegExp(properties["version"]?.pattern ?? "^$", "u").test("1.2.3"))
    assert.isFalse(new RegExp(properties["version"]?.pattern ?? "^$", "u").test("1.2"))
  })
})
