import { inject } from "vitest"
import { NatsBus } from "../../../services/bus/index.ts"
import { busSuite } from "./BusSuite.ts"

busSuite("NATS", () => NatsBus.layer({ url: inject("natsUrl") }))
