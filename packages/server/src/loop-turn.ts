// How long the main thread's loop has been behind. Every request is read, parsed and answered on
// this one thread; when its CPU is the bottleneck (not the sink), requests wait in their sockets
// for the loop to come round, refusals included: a turn spent on 2x a server's peak of batches
// lasts 60-130 ms on two cores, so every request, taken or refused, waits that long. Requests met
// late in a long turn are the excess: refusing them keeps turns, and so every wait, short
// (routes/ingest.ts). A timer due every TICK_MS that has not run for longer than that says the
// loop is still in the turn that began after it ran; how late it ran says how long the turn before
// was. Only both together count: one long turn (a garbage collection, the process descheduled for
// a moment) is not a queue, while an overload makes every turn long.
const TICK_MS = 5;

export class LoopTurn {
  #lastTick = performance.now();
  /** how long the turn before the last tick was busy beyond TICK_MS */
  #previousMs = 0;
  #closed = false;
  readonly #timer = setInterval(() => {
    const now = performance.now();
    this.#previousMs = now - this.#lastTick - TICK_MS;
    this.#lastTick = now;
  }, TICK_MS).unref();

  /** ms the loop has been behind: the shorter of its current turn so far and the turn before (0 once closed) */
  get busyMs(): number {
    if (this.#closed) return 0;
    return Math.max(0, Math.min(this.#previousMs, performance.now() - this.#lastTick - TICK_MS));
  }

  close(): void {
    this.#closed = true;
    clearInterval(this.#timer);
  }
}
