import { inject } from "vitest"
import * as NatsBus from "../../../services/bus/NatsBus.ts"
import { cancelSuite } from "./CancelSuite.ts"

cancelSuite("a real nats-server", () => NatsBus.layer({ url: inject("natsUrl") }))
