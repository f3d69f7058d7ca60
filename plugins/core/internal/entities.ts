/**
 * What `extract` produces and `knowledge-graph` stores: entity mentions (an
 * entity id shared by every mention of the same thing, with where this
 * mention sits), claims linking two entities, with the sentence that states
 * them, and findings: a chunk with the mentions and claims found in it, so a
 * batch of findings carries everything the graph needs about its chunks.
 * Offsets are positions in the document's text.
 */
import { Schema } from "effect"
import { Chunk } from "@switchyard/schemas/DocumentIR"

const Offset = Schema.Int.pipe(Schema.check(Schema.isGreaterThanOrEqualTo(0)))

/** One mention of an entity. */
export const Entity = Schema.Struct({
  /** Stable across mentions and documents: `<kind>:<normalized name>`, e.g. `drug:metformin`. */
  id: Schema.String,
  kind: Schema.String,
  /** Canonical name: the dictionary name, or the normalized match of a pattern. */
  name: Schema.String,
  /** The text as it appears. */
  text: Schema.String,
  chunkId: Schema.String,
  start: Offset,
  end: Offset
})
export type Entity = typeof Entity.Type

/** A statement `subject predicate object` found in one sentence. */
export const Claim = Schema.Struct({
  /** Stable: `<predicate>(<subject>,<object>)@<chunkId>:<start>`. */
  id: Schema.String,
  /** Entity id of the subject. */
  subject: Schema.String,
  predicate: Schema.String,
  /** Entity id of the object. */
  object: Schema.String,
  /** The sentence. */
  text: Schema.String,
  chunkId: Schema.String,
  start: Offset,
  end: Offset
})
export type Claim = typeof Claim.Type

/** `Type  2 Diabetes` → `type 2 diabetes`: the form entity ids are made of. */
export const normalizeName = (name: string): string => name.normalize("NFKC").toLowerCase().replace(/\s+/g, " ").trim()

/** The id of the entity of `kind` named `name`. */
export const entityId = (kind: string, name: string): string => `${kind}:${normalizeName(name)}`

/**
 * The kind and name an entity id is made of (`drug:metformin` → `drug`, `metformin`), or undefined for an id of
 * another form. Kinds hold no `:` (see `EntityKind`), so the id splits at its first one.
 */
export const entityOfId = (id: string): { readonly kind: string; readonly name: string } | undefined => {
  const match = /^([A-Za-z][A-Za-z0-9_-]*):(.*)$/s.exec(id)
  return match === null ? undefined : { kind: match[1]!, name: match[2]! }
}

/** A chunk with the entity mentions and claims one call of `extract` found in it. */
export const Finding = Schema.Struct({
  chunk: Chunk,
  entities: Schema.Array(Entity),
  claims: Schema.Array(Claim)
}).pipe(
  Schema.check(
    Schema.makeFilter(({ chunk, claims, entities }) => {
      const elsewhere = (field: "entities" | "claims", items: ReadonlyArray<{ readonly chunkId: string }>) =>
        items.flatMap((item, index) =>
          item.chunkId === chunk.id
            ? []
            : [
                {
                  path: [field, index, "chunkId"],
                  issue: `expected the finding's chunk id ${JSON.stringify(chunk.id)}, found ${JSON.stringify(item.chunkId)}`
                }
              ]
        )
      return [...elsewhere("entities", entities), ...elsewhere("claims", claims)]
    })
  )
)
export type Finding = typeof Finding.Type
