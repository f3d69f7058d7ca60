/**
 * Whether a text still holds a secret in any encoding: raw, JSON-escaped,
 * URL-encoded (percent or form), or inside any run of base64 (standard or
 * URL-safe, at any character offset) or hex it contains, decoded.
 */
const decodeUri = (text: string): string => {
  try {
    return decodeURIComponent(text)
  } catch {
    return text
  }
}

export const leaks = (text: string, secret: string): boolean => {
  const candidates = [text, decodeUri(text), decodeUri(text.replaceAll("+", " "))]
  for (const run of text.match(/[A-Za-z0-9+/_-]{8,}={0,2}/g) ?? []) {
    for (let skip = 0; skip < 4; skip++) {
      candidates.push(
        Buffer.from(run.slice(skip), "base64").toString("latin1"),
        Buffer.from(run.slice(skip), "base64url").toString("latin1")
      )
    }
  }
  for (const run of text.match(/[0-9a-fA-F]{8,}/g) ?? [])
    for (const skip of [0, 1]) candidates.push(Buffer.from(run.slice(skip), "hex").toString("latin1"))
  const needles = [secret, Buffer.from(secret).toString("latin1"), JSON.stringify(secret).slice(1, -1)]
  return candidates.some((candidate) => needles.some((needle) => candidate.includes(needle)))
}

/** The lines of `text` that hold the secret in some encoding. */
export const leakingLines = (text: string, secret: string): Array<string> => text.split("\n").filter((line) => leaks(line, secret))
