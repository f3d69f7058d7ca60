import { inject } from "vitest"
import * as NatsBus from "../../../services/bus/NatsBus.ts"
import { stageBlobsSuite } from "./StageBlobsSuite.ts"

stageBlobsSuite("a real nats-server", () => NatsBus.layer({ url: inject("natsUrl") }))
