/** The built-in `hello` plugin: its inline stage types. */
import { fail, flaky, greet, letters, noop, reverse, shout, sleep, summary, words } from "./stages.ts"

export * from "./stages.ts"

/** Every stage type of the `hello` plugin. */
export const stages = [greet, shout, reverse, letters, words, summary, noop, fail, flaky, sleep] as const
