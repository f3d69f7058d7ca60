/**
 * Generated document corpora for tests and benchmarks: a folder of Markdown
 * notes of about 2 KB each, medical and technical prose built from the drugs
 * and conditions of a vocabulary file (the example one unless told), with
 * doses, claim cues ("first-line for", "can cause"), headings, lists, tables,
 * quotes and code blocks, so `parse`, `chunk` and `extract` do real work;
 * plus a few PDFs (one per 500 documents, at least one) laid out with pdfkit.
 * The same seed and count always give the same files, byte for byte.
 */
import { createWriteStream } from "node:fs"
import { mkdir, readFile, writeFile } from "node:fs/promises"
import { join } from "node:path"
import { finished } from "node:stream/promises"
import { fileURLToPath } from "node:url"
import { Effect } from "effect"
import type { Scope } from "effect"
import PDFDocument from "pdfkit"
import { parse as parseYaml } from "yaml"
import { scratchDir } from "./processes.ts"

/** The example vocabulary, whose drugs and conditions the notes mention. */
export const exampleVocabulary = fileURLToPath(new URL("../../examples/config/medical-vocabulary.yaml", import.meta.url))

/** What `writeCorpus` takes. */
export interface CorpusOptions {
  /** The folder to write into (created when missing). */
  readonly dir: string
  /** Documents in all, PDFs included. */
  readonly documents: number
  /** @default 1 */
  readonly seed?: number
  /** One PDF per this many documents, at least one when there are documents. @default 500 */
  readonly pdfEvery?: number
  /** The vocabulary YAML whose `dictionaries.drug` and `dictionaries.condition` terms are used. @default examples/config/medical-vocabulary.yaml */
  readonly vocabulary?: string
  /** Size a Markdown note grows past, in characters (varied by ±20 % per note; notes end about 150 characters over it). @default 1800 */
  readonly targetBytes?: number
}

/** What was written. */
export interface GeneratedCorpus {
  readonly dir: string
  readonly documents: number
  readonly markdown: number
  readonly pdfs: number
  /** Bytes of every file together. */
  readonly bytes: number
  /** Paths of the files, relative to `dir`, in the order written. */
  readonly files: ReadonlyArray<string>
}

/** Terms of one entity kind: the names, and every spelling (names and aliases) to write. */
interface Terms {
  readonly names: ReadonlyArray<string>
  readonly spellings: ReadonlyArray<string>
}

/** The drugs and conditions a corpus is written from. */
export interface CorpusVocabulary {
  readonly drugs: Terms
  readonly conditions: Terms
}

/** How many of `documents` are PDFs. */
export const pdfCount = (documents: number, pdfEvery = 500): number => (documents <= 0 ? 0 : Math.max(1, Math.floor(documents / pdfEvery)))

/** Reads the drug and condition terms of a vocabulary file; a file without both is an error naming it. */
export const readCorpusVocabulary = async (file: string = exampleVocabulary): Promise<CorpusVocabulary> => {
  const raw = parseYaml(await readFile(file, "utf8")) as { dictionaries?: Record<string, unknown> } | null
  const terms = (kind: string): Terms => {
    const list = raw?.dictionaries?.[kind]
    if (!Array.isArray(list) || list.length === 0) {
      throw new Error(`${file}: dictionaries.${kind}: expected a non-empty list of terms for the corpus generator`)
    }
    const names: Array<string> = []
    const spellings: Array<string> = []
    for (const term of list as ReadonlyArray<unknown>) {
      if (typeof term === "string") {
        names.push(term)
        spellings.push(term)
      } else if (term !== null && typeof term === "object" && typeof (term as { name?: unknown }).name === "string") {
        const { aliases, name } = term as { name: string; aliases?: ReadonlyArray<string> }
        names.push(name)
        spellings.push(name, ...(aliases ?? []))
      }
    }
    return { names, spellings }
  }
  return { drugs: terms("drug"), conditions: terms("condition") }
}

/** A small seeded generator (mulberry32): the same seed gives the same sequence on every platform. */
const random = (seed: number) => {
  let state = seed >>> 0
  const next = () => {
    state = (state + 0x6d2b79f5) >>> 0
    let t = state
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
  const int = (min: number, max: number) => min + Math.floor(next() * (max - min + 1))
  const pick = <A>(items: ReadonlyArray<A>): A => items[Math.floor(next() * items.length)]!
  return { next, int, pick, chance: (p: number) => next() < p }
}
type Random = ReturnType<typeof random>

const capitalize = (text: string) => text.charAt(0).toUpperCase() + text.slice(1)

const units = ["mg", "mg", "mg", "mcg", "g", "ml"] as const
const frequencies = ["once daily", "twice daily", "three times daily", "", ""] as const
const settings = [
  "primary care",
  "the outpatient clinic",
  "the medical ward",
  "community pharmacy",
  "the renal unit",
  "telehealth follow-up"
]
const labs = ["eGFR", "HbA1c", "ALT", "potassium", "sodium", "LDL cholesterol", "CRP", "haemoglobin", "creatinine", "blood pressure"]
const reviewers = ["pharmacist", "nurse practitioner", "registrar", "consultant", "general practitioner", "care coordinator"]
const systems = ["the order entry system", "the dispensing robot", "the lab interface", "the discharge summary service", "the audit export"]

const dose = (r: Random) => {
  const unit = r.pick(units)
  const amount =
    unit === "g" ? r.pick([1, 2, 0.5]) : unit === "mcg" ? r.pick([25, 50, 100, 200]) : r.pick([5, 10, 20, 40, 80, 100, 250, 500, 850, 1000])
  const frequency = r.pick(frequencies)
  return frequency === "" ? `${amount} ${unit}` : `${amount} ${unit} ${frequency}`
}

/** One note's cast: a main drug and condition, and others to mention. */
interface Cast {
  readonly drug: string
  readonly drug2: string
  readonly condition: string
  readonly condition2: string
}

/** Sentences that give `extract` entities and claims, and plain technical ones that give it nothing. */
const clinical: ReadonlyArray<(c: Cast, r: Random) => string> = [
  (c) => `${capitalize(c.drug)} is prescribed as first-line treatment for ${c.condition} in most adults.`,
  (c, r) => `For ${c.condition}, start ${c.drug} at ${dose(r)} and review the response after ${r.int(2, 12)} weeks.`,
  (c) => `${capitalize(c.drug2)} can cause ${c.condition2}, so the combination with ${c.drug} needs closer monitoring.`,
  (c, r) => `In a cohort of ${r.int(40, 4000)} patients, ${c.drug} reduced the risk of ${c.condition} by ${r.int(5, 45)} percent.`,
  (c) => `Adverse effects of ${c.drug} include ${c.condition2}, which usually settles within a few weeks.`,
  (c, r) => `The usual maintenance dose of ${c.drug} is ${dose(r)}, taken with food.`,
  (c) => `Patients with ${c.condition} and ${c.condition2} were managed with ${c.drug2} when ${c.drug} was not tolerated.`,
  (c, r) => `${capitalize(c.drug2)} ${dose(r)} controls ${c.condition} in about ${r.int(30, 80)} percent of cases.`,
  (c) => `There is an increased risk of ${c.condition2} when ${c.drug} is given to older patients.`,
  (c) => `${capitalize(c.drug)} is not indicated for ${c.condition2} and should not be started for it alone.`,
  (c) => `Stop ${c.drug2} if the patient develops ${c.condition2}, and record the reaction in the allergy list.`,
  (c, r) => `Guidelines updated in ${r.int(2015, 2026)} still list ${c.drug} for ${c.condition}.`
]
const technical: ReadonlyArray<(r: Random) => string> = [
  (r) => `The ${r.pick(reviewers)} checks ${r.pick(labs)} every ${r.int(3, 12)} months and records it in ${r.pick(systems)}.`,
  (r) => `Results from ${r.pick(systems)} arrive within ${r.int(2, 48)} hours; late results are flagged for the ${r.pick(reviewers)}.`,
  (r) => `Any ${r.pick(labs)} value outside the reference range triggers a task in ${r.pick(systems)} with priority ${r.int(1, 4)}.`,
  (r) => `Follow-up happens in ${r.pick(settings)}, usually ${r.int(2, 10)} weeks after the last change.`,
  (r) => `Each record keeps the batch number, the prescriber and ${r.int(3, 9)} structured fields for audit.`,
  (r) => `The protocol was reviewed by ${r.int(3, 14)} clinicians and piloted in ${r.pick(settings)} for ${r.int(2, 18)} months.`,
  (r) => `Missing ${r.pick(labs)} results are the most common reason a review is postponed, at ${r.int(3, 30)} percent of visits.`,
  (r) => `Patients receive written advice and a follow-up call from the ${r.pick(reviewers)} within ${r.int(1, 14)} days.`
]

const paragraph = (cast: Cast, r: Random) =>
  Array.from({ length: r.int(2, 5) }, () => (r.chance(0.45) ? r.pick(clinical)(cast, r) : r.pick(technical)(r))).join(" ")

/** A Fisher-Yates shuffle driven by `r`. */
const shuffled = <A>(items: ReadonlyArray<A>, r: Random): Array<A> => {
  const out = [...items]
  for (let i = out.length - 1; i > 0; i--) {
    const j = r.int(0, i)
    ;[out[i], out[j]] = [out[j]!, out[i]!]
  }
  return out
}

const headings = [
  "Background",
  "Indications",
  "Dosing",
  "Adverse effects",
  "Monitoring",
  "Interactions",
  "Evidence",
  "Follow-up",
  "Special populations"
]

/** The Markdown note number `index` of a corpus with `seed`: a little over `targetBytes` characters. */
export const markdownNote = (
  vocabulary: CorpusVocabulary,
  options: { readonly seed: number; readonly index: number; readonly targetBytes?: number }
) => {
  const r = random(options.seed * 1_000_003 + options.index)
  const target = Math.round((options.targetBytes ?? 1800) * (0.8 + 0.4 * r.next()))
  const drug = r.pick(vocabulary.drugs.spellings)
  const condition = r.pick(vocabulary.conditions.spellings)
  const cast: Cast = {
    drug,
    drug2: r.pick(vocabulary.drugs.spellings.filter((other) => other !== drug)),
    condition,
    condition2: r.pick(vocabulary.conditions.spellings.filter((other) => other !== condition))
  }
  const parts = [`# ${capitalize(cast.drug)} in ${cast.condition}: note ${String(options.index + 1).padStart(5, "0")}`, paragraph(cast, r)]
  const size = () => parts.reduce((sum, part) => sum + part.length + 2, 0)
  const sections = shuffled(headings, r)
  let section = 0
  while (size() < target) {
    parts.push(`## ${sections[section++ % sections.length]!}`)
    const shape = r.int(0, 9)
    if (shape === 0) {
      parts.push(Array.from({ length: r.int(3, 5) }, () => `- ${r.pick(clinical)(cast, r)}`).join("\n"))
    } else if (shape === 1) {
      const rows = Array.from({ length: r.int(2, 4) }, () => `| ${r.pick(labs)} | every ${r.int(3, 12)} months | ${r.pick(reviewers)} |`)
      parts.push(["| check | interval | owner |", "| --- | --- | --- |", ...rows].join("\n"))
    } else if (shape === 2) {
      parts.push(`> ${r.pick(clinical)(cast, r)}\n> ${r.pick(technical)(r)}`)
    } else if (shape === 3) {
      parts.push(["```text", `review: ${r.pick(labs)} every ${r.int(3, 12)} months`, `dose: ${dose(r)}`, "```"].join("\n"))
    } else {
      parts.push(paragraph(cast, r))
    }
  }
  return `${parts.join("\n\n")}\n`
}

/** Writes PDF number `index`: a title, headings and paragraphs over one or two pages, with fixed dates so the bytes repeat. */
const writePdf = async (file: string, vocabulary: CorpusVocabulary, options: { readonly seed: number; readonly index: number }) => {
  const r = random(options.seed * 7_000_003 + options.index)
  const drug = r.pick(vocabulary.drugs.names)
  const condition = r.pick(vocabulary.conditions.names)
  const cast: Cast = {
    drug,
    drug2: r.pick(vocabulary.drugs.names.filter((other) => other !== drug)),
    condition,
    condition2: r.pick(vocabulary.conditions.names.filter((other) => other !== condition))
  }
  const title = `${capitalize(cast.drug)} and ${cast.condition}: review ${options.index + 1}`
  const date = new Date("2026-01-01T00:00:00Z")
  const pdf = new PDFDocument({
    size: "A4",
    margin: 60,
    info: { Title: title, Author: "Switchyard corpus", CreationDate: date, ModDate: date }
  })
  const out = createWriteStream(file)
  pdf.pipe(out)
  pdf.font("Helvetica-Bold").fontSize(20).text(title).moveDown(0.6)
  const sections = r.int(3, 5)
  for (let i = 0; i < sections; i++) {
    if (i === 2) pdf.addPage()
    pdf
      .font("Helvetica-Bold")
      .fontSize(14)
      .text(headings[(i + options.index) % headings.length]!)
      .moveDown(0.4)
    pdf.font("Helvetica").fontSize(11).text(paragraph(cast, r)).moveDown(0.8)
  }
  pdf.end()
  await finished(out)
}

/** Writes a corpus into `options.dir`: `notes/note-NNNNN.md` and `pdfs/review-NNN.pdf`. */
export const writeCorpus = async (options: CorpusOptions): Promise<GeneratedCorpus> => {
  const seed = options.seed ?? 1
  const vocabulary = await readCorpusVocabulary(options.vocabulary)
  const pdfs = pdfCount(options.documents, options.pdfEvery)
  const markdown = Math.max(0, options.documents - pdfs)
  await mkdir(join(options.dir, "notes"), { recursive: true })
  if (pdfs > 0) await mkdir(join(options.dir, "pdfs"), { recursive: true })
  const files: Array<string> = []
  let bytes = 0
  for (let index = 0; index < markdown; index++) {
    const name = join("notes", `note-${String(index + 1).padStart(5, "0")}.md`)
    const text = markdownNote(vocabulary, {
      seed,
      index,
      ...(options.targetBytes === undefined ? {} : { targetBytes: options.targetBytes })
    })
    await writeFile(join(options.dir, name), text)
    files.push(name)
    bytes += Buffer.byteLength(text)
  }
  for (let index = 0; index < pdfs; index++) {
    const name = join("pdfs", `review-${String(index + 1).padStart(3, "0")}.pdf`)
    await writePdf(join(options.dir, name), vocabulary, { seed, index })
    files.push(name)
    bytes += (await readFile(join(options.dir, name))).byteLength
  }
  return { dir: options.dir, documents: markdown + pdfs, markdown, pdfs, bytes, files }
}

/** A corpus in a fresh temporary folder, removed when the scope closes. */
export const scopedCorpus = (options: Omit<CorpusOptions, "dir">): Effect.Effect<GeneratedCorpus, never, Scope.Scope> =>
  Effect.flatMap(scratchDir("switchyard-corpus-"), (dir) => Effect.promise(() => writeCorpus({ ...options, dir })))
