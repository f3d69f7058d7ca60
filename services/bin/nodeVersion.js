// The Node.js version check `bin/switchyard.js` runs before it loads anything
// else. Plain JavaScript that parses and runs on old Node releases, so an
// unsupported Node gets one line naming the version needed instead of a crash
// deep inside a dependency. The minimum is the newest of: `node:sqlite` without
// a flag (22.13), type stripping of `.ts` stage modules on by default (22.18),
// and what @effect/platform-node declares in its engines (22.19). Keep it equal
// to `engines.node` in package.json (a test checks).

/** The oldest Node.js release the CLI runs on. */
export var minimumNodeVersion = "22.19.0"

function parts(version) {
  return String(version)
    .replace(/^v/, "")
    .split(".")
    .map(function (part) {
      return parseInt(part, 10) || 0
    })
}

/** True when `version` (such as `22.19.0` or `v24.1.0`) is at least the minimum. */
export function isSupportedNode(version) {
  var have = parts(version)
  var need = parts(minimumNodeVersion)
  for (var i = 0; i < need.length; i++) {
    if ((have[i] || 0) !== need[i]) return (have[i] || 0) > need[i]
  }
  return true
}

/** The one-line message for an unsupported `version`, or undefined when it is supported. */
export function unsupportedNodeMessage(version) {
  if (isSupportedNode(version)) return undefined
  return (
    "switchyard needs Node.js >= " +
    minimumNodeVersion +
    ", but this is Node.js " +
    String(version).replace(/^v/, "") +
    "; install a newer Node.js (such as Node.js 24 LTS) and run it again"
  )
}
