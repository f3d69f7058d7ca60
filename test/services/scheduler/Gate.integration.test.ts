import { inject } from "vitest"
import * as NatsBus from "../../../services/bus/NatsBus.ts"
import { gateSuite } from "./GateSuite.ts"

gateSuite("a real nats-server", () => NatsBus.layer({ url: inject("natsUrl") }))
