/**
 * Short names of core stage types: a type of the `core` namespace
 * (`core/<plugin>.<action>`, e.g. `core/core.ingest`) also answers to what
 * follows the first `.` of its name (`ingest`), unless two core types share
 * that short name; then it answers to neither, since picking one would be
 * silent. Used wherever stage types are resolved by name (discovery, the
 * registry), so both agree on what a short name means.
 */

/** The short name of a core stage type; undefined for any other type. */
export const coreShortName = (type: string): string | undefined => {
  if (!type.startsWith("core/")) return undefined
  const dot = type.indexOf(".")
  return dot < 0 || dot === type.length - 1 ? undefined : type.slice(dot + 1)
}

/** Short name → full stage type, for the unambiguous short names of `types`. */
export const coreAliases = (types: Iterable<string>): ReadonlyMap<string, string> => {
  const aliases = new Map<string, string>()
  const ambiguous = new Set<string>()
  for (const type of types) {
    const short = coreShortName(type)
    if (short === undefined) continue
    if (aliases.has(short) && aliases.get(short) !== type) ambiguous.add(short)
    else aliases.set(short, type)
  }
  for (const short of ambiguous) aliases.delete(short)
  return aliases
}
