import { inject } from "vitest"
import * as NatsBus from "../../../services/bus/NatsBus.ts"
import { runGcSuite } from "./RunGcSuite.ts"

runGcSuite("a real nats-server", () => NatsBus.layer({ url: inject("natsUrl") }))
