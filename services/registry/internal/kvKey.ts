/**
 * KV key encoding. NATS KV keys allow letters, digits and `-/_=.` (no leading,
 * trailing or doubled dot); every other character, and `=` itself, is written
 * as `=XX` per UTF-8 byte, so any string maps to a valid key and distinct
 * strings to distinct keys.
 */

const textEncoder = new TextEncoder()

const plain = /[-/_A-Za-z0-9]/

const escape = (char: string): string =>
  Array.from(textEncoder.encode(char), (byte) => `=${byte.toString(16).toUpperCase().padStart(2, "0")}`).join("")

/**
 * Encodes a string as a KV key. With `dots: "keep"`, single inner dots stay
 * (they make key tokens, e.g. `hello.greet`); with `"escape"` every dot is
 * escaped, so the result can be one token of a composite key.
 */
export const encodeKey = (value: string, options: { readonly dots: "keep" | "escape" }): string => {
  // A lone `=` is never produced by escaping, so it can stand for the empty string.
  if (value === "") return "="
  const chars = Array.from(value)
  return chars
    .map((char, index) => {
      if (plain.test(char)) return char
      if (char === "." && options.dots === "keep") {
        const edge = index === 0 || index === chars.length - 1 || chars[index - 1] === "."
        return edge ? escape(char) : char
      }
      return escape(char)
    })
    .join("")
}
