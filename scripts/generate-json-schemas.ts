/**
 * Writes `schemas/json/<name>.schema.json` for every entry of the schema
 * catalog (`schemas/Catalog.ts`) and removes files of entries that no longer
 * exist, so implementers in other languages can validate messages without
 * reading TypeScript. With `--check` it writes nothing and exits non-zero
 * when a checked-in file differs from what it would write.
 *
 *   npm run schemas:generate
 *   node scripts/generate-json-schemas.ts --check
 */
import { NodeRuntime, NodeServices } from "@effect/platform-node"
import { Console, Effect, FileSystem, Path, Schema } from "effect"
import { catalog, jsonSchemaFileName, renderJsonSchema } from "../schemas/Catalog.ts"

/** Checked-in JSON Schema files are not what the catalog produces. */
class JsonSchemasOutdatedError extends Schema.TaggedError<JsonSchemasOutdatedError>()("JsonSchemasOutdatedError", {
  files: Schema.Array(Schema.String)
}) {
  override get message(): string {
    return `out of date: ${this.files.join(", ")}; run npm run schemas:generate`
  }
}

const program = Effect.gen(function* () {
  const fs = yield* FileSystem.FileSystem
  const path = yield* Path.Path
  const check = process.argv.includes("--check")
  const dir = path.join(import.meta.dirname, "..", "schemas", "json")
  yield* fs.makeDirectory(dir, { recursive: true })

  const wanted = new Map(catalog.map((entry) => [jsonSchemaFileName(entry), renderJsonSchema(entry)] as const))
  const present = (yield* fs.readDirectory(dir)).filter((file) => file.endsWith(".schema.json"))
  const stale = present.filter((file) => !wanted.has(file))
  const changed: Array<string> = []
  for (const [file, text] of wanted) {
    const target = path.join(dir, file)
    const current = (yield* fs.exists(target)) ? yield* fs.readFileString(target) : undefined
    if (current !== text) changed.push(file)
  }

  if (check) {
    if (changed.length + stale.length > 0) return yield* new JsonSchemasOutdatedError({ files: [...changed, ...stale] })
    return yield* Console.log(`${wanted.size} JSON Schema files are up to date`)
  }
  for (const file of changed) yield* fs.writeFileString(path.join(dir, file), wanted.get(file) ?? "")
  for (const file of stale) yield* fs.remove(path.join(dir, file))
  yield* Console.log(`${wanted.size} JSON Schema files in schemas/json: ${changed.length} written, ${stale.length} removed`)
})

program.pipe(Effect.provide(NodeServices.layer), NodeRuntime.runMain)
