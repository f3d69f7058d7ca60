/**
 * Reading a soak service's memory between bursts: its resident set size
 * now (`VmRSS` of /proc/<pid>/status, as the kernel counts it) and, from
 * the probe preloaded into it (`soakProbe.ts`), V8's heap used and the
 * memory outside the heap; and asking the probe for a heap snapshot. The
 * probe answers on the child's stderr, which `probeReader` is handed line
 * by line.
 */
import { readFileSync } from "node:fs"
import type { Child } from "./corpusProcess.ts"

const marker = "switchyard-soak-probe "

/** What the probe reported, in bytes. */
export interface HeapReading {
  readonly heapUsed: number
  readonly heapTotal: number
  readonly external: number
  readonly arrayBuffers: number
}

/** One service's memory after a burst. */
export interface MemoryReading {
  /** `VmRSS` in bytes, or undefined when the process is gone. */
  readonly rss: number | undefined
  readonly heap: HeapReading | undefined
}

/** `VmRSS` of a live process in bytes, or undefined when it is gone. */
export const currentRss = (pid: number): number | undefined => {
  try {
    const match = /^VmRSS:\s+(\d+)\s+kB/m.exec(readFileSync(`/proc/${pid}/status`, "utf8"))
    return match === null ? undefined : Number(match[1]) * 1024
  } catch {
    return undefined
  }
}

const fieldsOf = (line: string): Record<string, string> =>
  Object.fromEntries(
    line
      .slice(marker.length)
      .split(" ")
      .map((pair) => pair.split("=", 2) as [string, string])
  )

/** Reads a service's probe answers (hand it every stderr line) and asks it questions over stdin. */
export const probeReader = () => {
  const waiting: Array<(fields: Record<string, string>) => void> = []
  let child: Child | undefined
  const ask = (command: string, timeoutMs: number) =>
    new Promise<Record<string, string> | undefined>((resolve) => {
      if (child === undefined || !child.send(command)) return resolve(undefined)
      const timer = setTimeout(() => {
        waiting.splice(waiting.indexOf(onAnswer), 1)
        resolve(undefined)
      }, timeoutMs)
      const onAnswer = (fields: Record<string, string>) => {
        clearTimeout(timer)
        resolve(fields)
      }
      waiting.push(onAnswer)
    })
  return {
    /** The child to ask; set once it is started. */
    attach: (started: Child) => {
      child = started
    },
    onStderrLine: (line: string) => {
      if (line.startsWith(marker)) waiting.shift()?.(fieldsOf(line))
    },
    /** RSS now, then the probe's heap figures. */
    memory: async (): Promise<MemoryReading> => {
      const rss = child === undefined ? undefined : currentRss(child.pid)
      const fields = await ask("memory", 30_000)
      const heap =
        fields === undefined
          ? undefined
          : {
              heapUsed: Number(fields.heapUsed),
              heapTotal: Number(fields.heapTotal),
              external: Number(fields.external),
              arrayBuffers: Number(fields.arrayBuffers)
            }
      return { rss, heap }
    },
    /** Writes a heap snapshot to `file`; resolves with the file written, or undefined. */
    snapshot: async (file: string): Promise<string | undefined> => (await ask(`snapshot ${file}`, 300_000))?.snapshot
  }
}
