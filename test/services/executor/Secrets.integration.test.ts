import { inject } from "vitest"
import * as NatsBus from "../../../services/bus/NatsBus.ts"
import { secretsSuite } from "./SecretsSuite.ts"

secretsSuite("a real nats-server", () => NatsBus.layer({ url: inject("natsUrl") }))
