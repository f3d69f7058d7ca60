/**
 * Timers shared by services: one Clock-driven fiber for many deadlines
 * (`TimerLoop`), and pending waits with a timeout each on top of it
 * (`Deadlines`).
 */
export * from "./Deadlines.ts"
export * from "./TimerLoop.ts"
