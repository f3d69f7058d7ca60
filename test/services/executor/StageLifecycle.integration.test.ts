import { inject } from "vitest"
import * as NatsBus from "../../../services/bus/NatsBus.ts"
import { stageLifecycleSuite } from "./StageLifecycleSuite.ts"

stageLifecycleSuite("a real nats-server", () => NatsBus.layer({ url: inject("natsUrl") }))
