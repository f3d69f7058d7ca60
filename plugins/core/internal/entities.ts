/**
 * What `extract` produces and `knowledge-graph` stores: entity mentions (an
 * entity id shared by every mention of the same thing, with where this
 * mention sits) and claims linking two entities, with the sentence that
 * states them. Offsets are positions in the document's text.
 */
import { Schema } from "effect"

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
