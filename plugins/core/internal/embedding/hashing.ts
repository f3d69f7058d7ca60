/**
 * The hashing embedder: deterministic feature hashing of the words of a text
 * (and, optionally, of adjacent word pairs). Words come from `Intl.Segmenter`
 * (word granularity, word-like segments only), NFKC-normalised and lower
 * cased; each feature is hashed to a slot and a sign (the signed hashing
 * trick, so collisions cancel out on average), and the vector is L2
 * normalised. It needs no model or network and gives the same vector for the
 * same text on every machine, but it is lexical, not semantic: texts are near
 * when they share words, not when they mean the same thing.
 */
import { Effect } from "effect"
import type { EmbeddingProvider } from "./provider.ts"

/** What the hashing embedder takes. */
export interface HashingOptions {
  readonly dimensions: number
  /** Also hash adjacent word pairs. */
  readonly bigrams: boolean
}

const segmenter = new Intl.Segmenter(undefined, { granularity: "word" })

/** The lower-cased, NFKC-normalised words of `text`, in order. */
export const wordsOf = (text: string): Array<string> => {
  const words: Array<string> = []
  for (const segment of segmenter.segment(text.normalize("NFKC"))) {
    if (segment.isWordLike === true) words.push(segment.segment.toLowerCase())
  }
  return words
}

// 32-bit FNV-1a over UTF-16 code units; two seeds give independent slot and sign hashes.
const fnv1a = (text: string, seed: number): number => {
  let hash = seed
  for (let index = 0; index < text.length; index++) {
    hash ^= text.charCodeAt(index)
    hash = Math.imul(hash, 0x01000193)
  }
  return hash >>> 0
}

const slotSeed = 0x811c9dc5
const signSeed = 0x050c5d1f

/** The hashed, signed, L2-normalised vector of `text`; all zeros for a text without words. */
export const hashingVector = (text: string, options: HashingOptions): Array<number> => {
  const vector = new Array<number>(options.dimensions).fill(0)
  const words = wordsOf(text)
  const add = (feature: string) => {
    const slot = fnv1a(feature, slotSeed) % options.dimensions
    vector[slot]! += (fnv1a(feature, signSeed) & 1) === 0 ? 1 : -1
  }
  for (const word of words) add(word)
  if (options.bigrams) for (let index = 1; index < words.length; index++) add(`${words[index - 1]}\u0000${words[index]}`)
  const norm = Math.sqrt(vector.reduce((sum, value) => sum + value * value, 0))
  return norm === 0 ? vector : vector.map((value) => value / norm)
}

/** A provider that embeds with `hashingVector`. */
export const hashingProvider = (options: HashingOptions): EmbeddingProvider => ({
  kind: "hashing",
  model: options.bigrams ? `hashing-unigram-bigram-${options.dimensions}` : `hashing-unigram-${options.dimensions}`,
  embed: (texts) => Effect.sync(() => texts.map((text) => hashingVector(text, options)))
})
