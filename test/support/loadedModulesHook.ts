/**
 * A module hook for a child process (`node --import`): when the process
 * exits it writes every module it loaded, as one line `loaded modules: `
 * followed by a JSON array of URLs, to stderr. Tests that guard what a
 * command loads parse that line; nothing here is imported by a test itself.
 */
import { registerHooks } from "node:module"

const loaded = new Set<string>()

registerHooks({
  load: (url, context, nextLoad) => {
    loaded.add(url)
    return nextLoad(url, context)
  }
})

process.on("exit", () => {
  process.stderr.write(`loaded modules: ${JSON.stringify([...loaded])}\n`)
})
