import { describe, expect, it } from "@effect/vitest"
import { ConfigProvider, Duration, Effect, Exit, Option } from "effect"
import { durationSetting, parseDuration } from "../../../services/cli/internal/durationSetting.ts"

const millis = (text: string) => Option.map(parseDuration(text), Duration.toMillis)

describe("duration settings", () => {
  it("reads the short form, Effect's own form and ISO 8601", () => {
    expect(millis("7d")).toEqual(Option.some(7 * 86_400_000))
    expect(millis("12h")).toEqual(Option.some(12 * 3_600_000))
    expect(millis("30m")).toEqual(Option.some(30 * 60_000))
    expect(millis("90s")).toEqual(Option.some(90_000))
    expect(millis("500ms")).toEqual(Option.some(500))
    expect(millis("2w")).toEqual(Option.some(14 * 86_400_000))
    expect(millis("1.5h")).toEqual(Option.some(5_400_000))
    expect(millis("7 days")).toEqual(Option.some(7 * 86_400_000))
    expect(millis("1 hour")).toEqual(Option.some(3_600_000))
    expect(millis("P7D")).toEqual(Option.some(7 * 86_400_000))
    expect(millis("PT1H")).toEqual(Option.some(3_600_000))
    expect(millis("0s")).toEqual(Option.some(0))
  })

  it("refuses what is no duration, or a negative one", () => {
    for (const text of ["7x", "soon", "", "7", "-1 days", "d7"]) expect(parseDuration(text), text).toEqual(Option.none())
  })

  it.effect("takes the flag over the variable, the variable over the default, and names the one that does not parse", () =>
    Effect.gen(function* () {
      const setting = (given: Option.Option<string>) =>
        durationSetting({ flag: "--grace", given, env: "SWITCHYARD_BLOB_GRACE", fallback: "1 hour" })
      const withEnv = (env: Record<string, string>) => Effect.provide(ConfigProvider.layer(ConfigProvider.fromEnv({ env })))

      expect(Duration.toMillis(yield* setting(Option.some("2h")).pipe(withEnv({ SWITCHYARD_BLOB_GRACE: "soon" })))).toBe(7_200_000)
      expect(Duration.toMillis(yield* setting(Option.none()).pipe(withEnv({ SWITCHYARD_BLOB_GRACE: "3m" })))).toBe(180_000)
      expect(Duration.toMillis(yield* setting(Option.none()).pipe(withEnv({})))).toBe(3_600_000)

      const fromFlag = yield* Effect.exit(setting(Option.some("7x")).pipe(withEnv({})))
      expect(Exit.isFailure(fromFlag) && String(fromFlag.cause)).toContain(`--grace: expected a duration`)
      const fromEnv = yield* Effect.exit(setting(Option.none()).pipe(withEnv({ SWITCHYARD_BLOB_GRACE: "soon" })))
      expect(Exit.isFailure(fromEnv) && String(fromEnv.cause)).toContain(`SWITCHYARD_BLOB_GRACE: expected a duration`)
    })
  )
})
