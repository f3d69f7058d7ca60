/**
 * `core/core.parse`: reads each payload into the Document IR (title, full
 * text, nested sections of paragraphs with offsets into the text, format
 * metadata) and sets the list of documents, one per payload in payload
 * order, in `documents`. A list in, a list out: parsing payloads in batches
 * and concatenating the lists gives what one call over all of them gives,
 * so the stage can be mapped over payloads. Plain text,
 * Markdown, HTML and PDF are understood; any other media type stops the
 * stage with an error naming the payload's source and media type.
 */
import { Effect, Schema } from "effect"
import { defineStage, StageError } from "@switchyard/sdk"
import type { StageContext } from "@switchyard/sdk"
import { Document, Payload } from "@switchyard/schemas/DocumentIR"
import type { ParsedBody } from "./internal/parsedBody.ts"
import { decodeUtf8, payloadBytes } from "./internal/payloadBytes.ts"
import { parseHtml } from "./internal/parseHtml.ts"
import { parseMarkdown } from "./internal/parseMarkdown.ts"
import { parsePdf } from "./internal/parsePdf.ts"
import { parseText } from "./internal/parseText.ts"

const stage = "core.parse"

type Parser = (bytes: Uint8Array, source: string) => Effect.Effect<ParsedBody, StageError>

/** A parser of UTF-8 text; bytes that are not UTF-8 are an error naming the source. */
const textual =
  (parse: (content: string, source: string) => ParsedBody): Parser =>
  (bytes, source) => {
    const content = decodeUtf8(bytes)
    return content === undefined
      ? Effect.fail(new StageError({ message: `${stage}: ${source} is not valid UTF-8 text`, retryable: false }))
      : Effect.sync(() => parse(content.replace(/^\uFEFF/, ""), source))
  }

const pdf: Parser = (bytes, source) =>
  Effect.mapError(
    parsePdf(bytes, source),
    (error) =>
      new StageError({
        message: `${stage}: ${source} is not a readable PDF: ${error instanceof Error ? error.message : String(error)}`,
        retryable: false
      })
  )

/** The parser for each media type understood. */
const parsers: ReadonlyMap<string, Parser> = new Map([
  ["text/plain", textual(parseText)],
  ["text/markdown", textual(parseMarkdown)],
  ["text/x-markdown", textual(parseMarkdown)],
  ["text/html", textual(parseHtml)],
  ["application/xhtml+xml", textual(parseHtml)],
  ["application/pdf", pdf]
])

/** The media types `core.parse` understands. */
export const supportedMediaTypes: ReadonlyArray<string> = [...parsers.keys()]

/** Parses one payload into a document. */
const parseOne = (payload: Payload, context: StageContext): Effect.Effect<Document, StageError> => {
  const parser = parsers.get(payload.mediaType.toLowerCase())
  if (parser === undefined) {
    return Effect.fail(
      new StageError({
        message: `${stage}: ${payload.source} has media type ${payload.mediaType}, which is not supported (supported: ${supportedMediaTypes.join(", ")})`,
        retryable: false
      })
    )
  }
  return payloadBytes(stage, payload, context).pipe(
    Effect.flatMap((bytes) => parser(bytes, payload.source)),
    Effect.map(
      (body) =>
        new Document({
          id: payload.id,
          source: payload.source,
          mediaType: payload.mediaType,
          title: body.title,
          text: body.text,
          sections: body.sections,
          metadata: body.metadata
        })
    )
  )
}

/** `{ payloads: Payload[] }` → `Document[]`, one per payload, in payload order. */
export const parse = defineStage({
  type: "core/core.parse",
  version: "2.0.0",
  description:
    "Parses plain text, Markdown, HTML and PDF payloads into a list of documents with sections, paragraphs and offsets, one per payload.",
  plugin: "core",
  stateKey: "documents",
  output: "set",
  count: "length",
  dependencies: ["core/core.ingest"],
  timeout: 120_000,
  inputs: Schema.Struct({
    payloads: Schema.Array(Payload).annotate({ description: "The payloads core.ingest produced (all of them, or a batch)." })
  }),
  outputs: Schema.Array(Document),
  run: ({ payloads }, context) => Effect.forEach(payloads, (payload) => parseOne(payload, context), { concurrency: 4 })
})
