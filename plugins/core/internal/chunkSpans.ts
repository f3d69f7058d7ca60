/**
 * Cuts one stretch of a document's text into spans of at most `size`
 * characters, each overlapping the one before by at most `overlap`. A span
 * ends at the latest good break that leaves it at least half full, trying in
 * turn a paragraph boundary, a sentence end, then any whitespace, and cuts
 * mid-word only when the window has no whitespace at all. Spans never start
 * or end on whitespace, and the next span starts at a word boundary unless
 * the one before was cut through a word.
 */

/** A span `[start, end)` of the text. */
export interface Span {
  readonly start: number
  readonly end: number
}

const isSpace = (char: string | undefined): boolean => char !== undefined && /\s/.test(char)

/** The latest position in `[from, to]` where `accept` says a break may go, or `undefined`. */
const lastBreak = (from: number, to: number, accept: (position: number) => boolean): number | undefined => {
  for (let position = to; position >= from; position--) if (accept(position)) return position
  return undefined
}

/**
 * Spans of `text` within `region`, breaking preferably at `paragraphEnds`
 * (offsets where a paragraph ends inside the region). `overlap < size`.
 */
export const chunkSpans = (
  text: string,
  region: Span,
  options: { readonly size: number; readonly overlap: number; readonly paragraphEnds: ReadonlyArray<number> }
): ReadonlyArray<Span> => {
  const { overlap, size } = options
  const paragraphEnds = new Set(options.paragraphEnds)
  const skipSpace = (position: number, limit: number): number => {
    while (position < limit && isSpace(text[position])) position++
    return position
  }
  const spans: Array<Span> = []
  let start = skipSpace(region.start, region.end)
  while (start < region.end) {
    let end: number
    if (region.end - start <= size) {
      end = region.end
    } else {
      const limit = start + size
      // A break must leave the span at least half full and past the overlap, so the next span starts further on.
      const floor = start + Math.max(Math.ceil(size / 2), overlap + 1)
      end =
        lastBreak(floor, limit, (position) => paragraphEnds.has(position)) ??
        lastBreak(floor, limit, (position) => /[.!?;:]/.test(text[position - 1]!) && isSpace(text[position])) ??
        lastBreak(floor, limit, (position) => !isSpace(text[position - 1]) && isSpace(text[position])) ??
        limit
    }
    while (end > start && isSpace(text[end - 1])) end--
    spans.push({ start, end })
    if (end >= region.end) break
    start = nextStart(text, { start, end, overlap, regionEnd: region.end })
  }
  return spans
}

/**
 * Where the span after `[start, end)` begins: at the first word boundary at
 * or after `end - overlap` (exactly there after a cut through a word),
 * always after `start`, skipping whitespace.
 */
const nextStart = (
  text: string,
  options: { readonly start: number; readonly end: number; readonly overlap: number; readonly regionEnd: number }
): number => {
  const { end, overlap, regionEnd } = options
  let position = Math.max(end - overlap, options.start + 1)
  const cutThroughWord = !isSpace(text[end - 1]) && !isSpace(text[end])
  // Step off a word the overlap would cut into; a span that was itself cut mid-word has no boundary to keep.
  if (!cutThroughWord && position < end && !isSpace(text[position - 1]) && !isSpace(text[position])) {
    while (position < end && !isSpace(text[position])) position++
  }
  while (position < regionEnd && isSpace(text[position])) position++
  return position
}
