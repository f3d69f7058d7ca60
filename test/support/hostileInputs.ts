/**
 * Hostile pipelines the input-limit tests share: a plain pipeline to build
 * them from, and a YAML alias bomb.
 */

/** A one-stage pipeline of `hello.greet` over the run input `name`. */
export const greetPipeline = `name: hostile
inputs:
  name: World
stages:
  - name: greet
    type: hello.greet
    inputs:
      name: "{{ inputs.name }}"
`

/**
 * A pipeline whose stage config is an alias bomb: `levels` anchors of nine aliases each to the one
 * before, 9^levels copies of the first when expanded. Its first alias is at line 4, column 10.
 */
export const aliasBomb = (levels: number): string => {
  const names = Array.from({ length: levels }, (_, index) => String.fromCharCode(97 + index))
  const anchors = names.map((name, index) =>
    index === 0
      ? `  ${name}: &${name} [lol, lol, lol, lol, lol, lol, lol, lol, lol]`
      : `  ${name}: &${name} [${Array.from({ length: 9 }, () => `*${names[index - 1]}`).join(", ")}]`
  )
  return `name: bomb\nanchors:\n${anchors.join("\n")}\nstages:\n  - name: greet\n    type: hello.greet\n    config: { x: *${names.at(-1)} }\n`
}
