import { inject } from "vitest"
import * as NatsBus from "../../../services/bus/NatsBus.ts"
import { processStageSuite } from "./ProcessStageSuite.ts"

processStageSuite("a real nats-server", () => NatsBus.layer({ url: inject("natsUrl") }))
