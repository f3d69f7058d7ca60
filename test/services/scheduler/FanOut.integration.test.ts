import { inject } from "vitest"
import * as NatsBus from "../../../services/bus/NatsBus.ts"
import { fanOutSuite } from "./FanOutSuite.ts"

fanOutSuite("a real nats-server", () => NatsBus.layer({ url: inject("natsUrl") }))
