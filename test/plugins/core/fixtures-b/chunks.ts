/**
 * Chunks of the fixture documents for the core stage tests: one chunk per
 * paragraph (headings become the section path), with offsets into the file's
 * text, shaped as the `chunk` stage emits them.
 */
import { readFileSync } from "node:fs"
import { fileURLToPath } from "node:url"

/** A chunk as JSON, as stages receive it from the run state. */
export interface ChunkJson {
  readonly id: string
  readonly documentId: string
  readonly index: number
  readonly text: string
  readonly start: number
  readonly end: number
  readonly sectionPath: ReadonlyArray<string>
  readonly overlap?: number
}

/** The text of a fixture file. */
export const fixtureText = (name: string): string => readFileSync(fileURLToPath(new URL(name, import.meta.url)), "utf8")

/** One chunk per paragraph of `text`; `#` headings set the section path. */
export const paragraphChunks = (documentId: string, text: string): Array<ChunkJson> => {
  const chunks: Array<ChunkJson> = []
  const path: Array<string> = []
  for (const match of text.matchAll(/[^\n]+(?:\n[^\n]+)*/g)) {
    const heading = /^(#+)\s+(.*)$/.exec(match[0])
    if (heading !== null) {
      path.splice(heading[1]!.length - 1, path.length, heading[2]!)
      continue
    }
    chunks.push({
      id: `${documentId}:${chunks.length}`,
      documentId,
      index: chunks.length,
      text: match[0],
      start: match.index,
      end: match.index + match[0].length,
      sectionPath: [...path]
    })
  }
  return chunks
}

/** The chunks of the cardiometabolic care fixture, as document `care`. */
export const careChunks = (): Array<ChunkJson> => paragraphChunks("care", fixtureText("cardiometabolic-care.md"))

/** The chunks of the respiratory infections fixture, as document `respiratory`. */
export const respiratoryChunks = (): Array<ChunkJson> => paragraphChunks("respiratory", fixtureText("respiratory-infections.md"))
