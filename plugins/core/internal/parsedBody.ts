/**
 * What each format parser returns: the parts of a `Document` that depend on
 * the format (title, text, sections, metadata). `parse` adds the payload's
 * id, source and media type.
 */
import { basename, extname } from "node:path"
import type { Schema } from "effect"
import type { Section } from "@switchyard/schemas/DocumentIR"

/** A format parser's result. */
export interface ParsedBody {
  readonly title: string
  readonly text: string
  readonly sections: ReadonlyArray<Section>
  readonly metadata: { readonly [key: string]: Schema.Json }
}

/** A fallback title: the file (or URL path) name without its extension. */
export const titleFromSource = (source: string): string => {
  const path = /^https?:\/\//i.test(source) ? new URL(source).pathname : source
  const name = basename(path)
  const stem = name.slice(0, name.length - extname(name).length)
  return stem === "" ? source : stem
}
