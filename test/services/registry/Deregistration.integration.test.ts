import { inject } from "vitest"
import * as NatsBus from "../../../services/bus/NatsBus.ts"
import { deregistrationSuite } from "./DeregistrationSuite.ts"

deregistrationSuite("NATS", () => NatsBus.layer({ url: inject("natsUrl") }))
