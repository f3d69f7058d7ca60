/**
 * Writes `examples/data/pneumonia.pdf`, the sample corpus's PDF: a title,
 * section headings and paragraphs over two pages, in the standard Helvetica
 * fonts (nothing embedded, so the file stays a few KB). The document info
 * carries a fixed creation date, so running it again gives the same bytes.
 *
 *   node scripts/make-sample-pdf.ts
 */
import { createWriteStream } from "node:fs"
import { join } from "node:path"
import { finished } from "node:stream/promises"
import PDFDocument from "pdfkit"

const target = join(import.meta.dirname, "..", "examples", "data", "pneumonia.pdf")

/** One block of the document: a heading of a level, a paragraph, or a page break. */
type Block = { readonly heading: string; readonly level: 1 | 2 } | { readonly paragraph: string } | { readonly pageBreak: true }

const blocks: ReadonlyArray<Block> = [
  { heading: "Community-Acquired Pneumonia in Adults", level: 1 },
  {
    paragraph:
      "Community-acquired pneumonia is an infection of the lung tissue that begins outside hospital. It remains one of the most common reasons for adult admission during the winter months, and older patients with type 2 diabetes or chronic heart disease carry the highest risk."
  },
  { heading: "Presentation", level: 2 },
  {
    paragraph:
      "Patients usually report cough, fever and shortness of breath developing over a few days. Pleuritic chest pain, new confusion and a raised respiratory rate point to a more severe illness and call for prompt assessment."
  },
  {
    paragraph:
      "On examination, focal crackles or bronchial breathing over one lobe are typical. Oxygen saturation should be measured in every patient, because hypoxia changes the place of care."
  },
  { heading: "Diagnosis", level: 2 },
  {
    paragraph:
      "A chest radiograph confirms new consolidation. Blood tests include a full blood count, urea and C-reactive protein; the CURB-65 score combines confusion, urea, respiratory rate, blood pressure and age to estimate severity."
  },
  { pageBreak: true },
  { heading: "Treatment", level: 2 },
  {
    paragraph:
      "Low-severity pneumonia is treated at home with amoxicillin 500 mg three times daily for five days. Patients allergic to penicillin may receive doxycycline 200 mg on the first day, then 100 mg once daily."
  },
  {
    paragraph:
      "Moderate or high severity disease needs hospital care, intravenous antibiotics and oxygen to keep saturation between 94 and 98 percent. Metformin may be paused while a patient with diabetes is acutely unwell and dehydrated."
  },
  { heading: "Follow-up", level: 2 },
  {
    paragraph:
      "Symptoms settle over several weeks: fever within a week, cough within about six weeks. A repeat chest radiograph after six weeks is advised for smokers and for patients over fifty, to exclude an underlying lesion."
  }
]

const pdf = new PDFDocument({
  size: "A4",
  margin: 60,
  info: {
    Title: "Community-Acquired Pneumonia in Adults",
    Author: "Switchyard examples",
    Subject: "Sample document for the core stages",
    CreationDate: new Date("2026-01-01T00:00:00Z"),
    ModDate: new Date("2026-01-01T00:00:00Z")
  }
})
const out = createWriteStream(target)
pdf.pipe(out)

for (const block of blocks) {
  if ("pageBreak" in block) {
    pdf.addPage()
  } else if ("heading" in block) {
    pdf
      .font("Helvetica-Bold")
      .fontSize(block.level === 1 ? 20 : 14)
      .text(block.heading)
    pdf.moveDown(0.6)
  } else {
    pdf.font("Helvetica").fontSize(11).text(block.paragraph, { align: "left" })
    pdf.moveDown(0.8)
  }
}

pdf.end()
await finished(out)
console.log(`wrote ${target}`)
