/** The metadata of a registrable no-op stage type named `type`, for the registry benchmarks. */
export const benchStageMetadata = (type: string) => ({
  type,
  version: "1.0.0",
  description: `the ${type} stage`,
  plugin: "bench",
  stateKey: "out",
  output: "set",
  count: "one",
  dependencies: [],
  runtime: "inline",
  timeoutMs: 1000
})
