// How long the main thread's loop has been busy in its current turn. Every request is read, parsed
// and answered on this one thread; when its CPU is the bottleneck (not the sink), requests wait in
// their sockets for the loop to come round, refusals included: a turn spent on 2x a server's peak
// of batches lasts 60-130 ms on two cores, so every request, taken or refused, waits that long.
// Requests met late in a long turn are the excess: refusing them keeps turns, and so every wait,
// short (routes/ingest.ts). A timer due every TICK_MS that has not run for longer than that says
// the loop is still in the turn that began after it ran.
export const TICK_MS = 5;

export class LoopTurn {
  #lastTick = performance.now();
  readonly #timer = setInterval(() => { this.#lastTick = performance.now(); }, TICK_MS).unref();

  /** ms the loop has been busy since it last came round to its timers (0 when it keeps up) */
  get busyMs(): number {
    return Math.max(0, performance.now() - this.#lastTick - TICK_MS);
  }

  close(): void {
    clearInterval(this.#timer);
  }
}
