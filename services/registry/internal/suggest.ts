/**
 * "Did you mean" suggestions for unknown stage types: the known types closest
 * by edit distance (Levenshtein), nearest first, ties by name.
 */

/** Edits (insert, delete, substitute one character) that turn `a` into `b`. */
export const editDistance = (a: string, b: string): number => {
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j)
  for (let i = 1; i <= a.length; i++) {
    const current = [i]
    for (let j = 1; j <= b.length; j++) {
      const substitution = previous[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1)
      current.push(Math.min(previous[j]! + 1, current[j - 1]! + 1, substitution))
    }
    previous = current
  }
  return previous[b.length]!
}

/**
 * Up to `limit` known names close to `name`. A candidate further than half
 * the longer name's length (at least 3 edits) is not a plausible typo and is
 * left out.
 */
export const suggest = (name: string, known: Iterable<string>, limit = 3): ReadonlyArray<string> =>
  Array.from(known, (candidate) => ({ candidate, distance: editDistance(name, candidate) }))
    .filter(({ candidate, distance }) => distance > 0 && distance <= Math.max(3, Math.floor(Math.max(name.length, candidate.length) / 2)))
    .sort((x, y) => x.distance - y.distance || (x.candidate < y.candidate ? -1 : x.candidate > y.candidate ? 1 : 0))
    .slice(0, limit)
    .map(({ candidate }) => candidate)
