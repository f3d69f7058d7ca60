#!/usr/bin/env node
// The version check comes first and has no imports of its own; the CLI is
// imported dynamically after it, since static imports would be loaded (and
// could fail on syntax or missing built-ins) before any code here runs.
import { unsupportedNodeMessage } from "./nodeVersion.js"

var unsupported = unsupportedNodeMessage(process.versions.node)
if (unsupported !== undefined) {
  process.stderr.write(unsupported + "\n")
  process.exitCode = 1
} else {
  await import("../dist/cli/main.js")
}
