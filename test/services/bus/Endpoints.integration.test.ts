import { inject } from "vitest"
import * as NatsBus from "../../../services/bus/NatsBus.ts"
import { endpointsSuite } from "./EndpointsSuite.ts"

endpointsSuite("a real nats-server", () => NatsBus.layer({ url: inject("natsUrl") }))
