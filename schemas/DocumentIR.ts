/**
 * The documents the core stages pass along: a payload as `ingest` reads it,
 * the Document IR `parse` builds from it (title, nested sections, paragraphs
 * with offsets into the document's full text), and the chunks `chunk` cuts
 * from it. Offsets are UTF-16 code unit positions in `Document.text`, start
 * inclusive, end exclusive, so `text.slice(start, end)` is the span.
 */
import { Schema } from "effect"
import { BlobRef } from "./Blob.ts"

const Offset = Schema.Int.pipe(Schema.check(Schema.isGreaterThanOrEqualTo(0)))

/** One ingested source: a file or a URL, with its content inline or a reference to it. */
export class Payload extends Schema.Class<Payload>("switchyard/Payload")({
  /** Stable id: a hash of the source location. */
  id: Schema.String,
  /** Where it came from: an absolute file path or a URL. */
  source: Schema.String,
  /** Media type, such as `text/markdown` or `application/pdf`. */
  mediaType: Schema.String,
  /** Size in bytes. */
  size: Schema.Int,
  /** SHA-256 of the bytes, hex. */
  sha256: Schema.String,
  /** Inline content: UTF-8 text for text media types, base64 for binary ones. */
  content: Schema.optionalKey(Schema.String),
  /** How `content` is encoded when present. */
  encoding: Schema.optionalKey(Schema.Literals(["utf8", "base64"])),
  /** A file path or URL to read the bytes from, for payloads too large to inline where no blob store was offered. */
  ref: Schema.optionalKey(Schema.String),
  /** The bytes in the run's blob store, for payloads too large to inline: any replica reads them. */
  blob: Schema.optionalKey(BlobRef)
}) {}

/** A paragraph: its text and where it sits in the document's full text. */
export class Paragraph extends Schema.Class<Paragraph>("switchyard/Paragraph")({
  text: Schema.String,
  start: Offset,
  end: Offset
}) {}

/** A section: a heading, its level (1 for the top), paragraphs and subsections. */
export interface Section {
  readonly title: string
  readonly level: number
  readonly start: number
  readonly end: number
  readonly paragraphs: ReadonlyArray<Paragraph>
  readonly sections: ReadonlyArray<Section>
}

export interface SectionEncoded {
  readonly title: string
  readonly level: number
  readonly start: number
  readonly end: number
  readonly paragraphs: ReadonlyArray<typeof Paragraph.Encoded>
  readonly sections: ReadonlyArray<SectionEncoded>
}

export const Section: Schema.Codec<Section, SectionEncoded> = Schema.Struct({
  title: Schema.String,
  level: Schema.Int.pipe(Schema.check(Schema.isGreaterThan(0))),
  start: Offset,
  end: Offset,
  paragraphs: Schema.Array(Paragraph),
  sections: Schema.Array(Schema.suspend((): Schema.Codec<Section, SectionEncoded> => Section))
}).annotate({ identifier: "switchyard/Section" })

/** The Document IR: what `parse` produces and every later stage reads. */
export class Document extends Schema.Class<Document>("switchyard/Document")({
  /** The payload id it was parsed from. */
  id: Schema.String,
  source: Schema.String,
  mediaType: Schema.String,
  title: Schema.String,
  /** The whole text; every offset points into it. */
  text: Schema.String,
  /** Top-level sections; text before the first heading sits in a section titled like the document, level 1. */
  sections: Schema.Array(Section),
  /** Format-specific facts: page count, author, language, headings found. */
  metadata: Schema.Record(Schema.String, Schema.Json)
}) {}

/** A piece of a document's text that never crosses a section boundary. */
export class Chunk extends Schema.Class<Chunk>("switchyard/Chunk")({
  /** Stable id: `<documentId>:<index>`. */
  id: Schema.String,
  documentId: Schema.String,
  /** Position among the document's chunks, from 0. */
  index: Schema.Int,
  text: Schema.String,
  start: Offset,
  end: Offset,
  /** Titles from the top section down to the one holding the chunk. */
  sectionPath: Schema.Array(Schema.String),
  /**
   * How many characters at its start it shares with the document's previous chunk (0 or absent when none), so a
   * reader of one chunk alone can tell what the previous chunk already covers.
   */
  overlap: Schema.optionalKey(Offset),
  /** The title of the chunk's document, so a reader of the chunk alone can name its document. */
  documentTitle: Schema.optionalKey(Schema.String),
  /** The source of the chunk's document: a file path or URL. */
  documentSource: Schema.optionalKey(Schema.String)
}) {}

/** A list of documents as one value (the core stages pass documents as a plain list). */
export class Corpus extends Schema.Class<Corpus>("switchyard/Corpus")({
  documents: Schema.Array(Document)
}) {}
