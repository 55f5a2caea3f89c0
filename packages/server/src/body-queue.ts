// Bodies read and waiting for the main thread to parse and prepare them. Parsing a batch of 100
// events and preparing its records takes 0.6-1.1 ms of this one thread (by machine); when bodies
// arrive faster than that, parsing each as its last byte arrives made one turn of the loop parse
// every body that completed in it: 60-130 ms turns under a 2x overload, during which no socket was
// read, so every request waited that long, refusals included. Here the bodies wait in arrival
// order and are taken in slices of SLICE_MS; between slices the loop reads its sockets, answers,
// and refuses what arrives while the queue is long (routes/ingest.ts): a refusal waits for one
// slice, not for every body ahead of it. At 2 ms (two or three batches) the loop's turns under that
// overload lasted 7-12 ms at most in each 250 ms window, against 10-20 ms at 5 ms; the extra turns
// cost nothing measurable (BENCHMARKS.md, 2026-12-05).
const SLICE_MS = 2;
/**
 * Whether more requests arrive than bodies are taken (`outpaced`), over windows this long: long
 * against the bursts of a closed loop (a group commit answers 50 clients at once, and they send 50
 * bodies within a few ms), short against an overload's onset, whose first half second the late
 * bound (../body.ts) covers.
 */
const RATE_WINDOW_MS = 500;
/** Requests arriving per body taken above which the thread is outpaced: a closed loop brings ~1, an overload of 2x its peak ~2. */
const OUTPACED_RATIO = 1.25;

interface Waiting {
  /** told how long (ms) the body waited for its turn */
  run: (waitedMs: number) => void;
  /** performance.now() when queued */
  since: number;
}

export class BodyQueue {
  #waiting: (Waiting | undefined)[] = [];
  #head = 0;
  /** a slice is running or due */
  #active = false;
  #sliceStart = 0;
  /** the window's start, and what arrived and was taken in it */
  #windowStart = performance.now();
  #arrived = 0;
  #taken = 0;
  /** the last complete window's verdict */
  #outpaced = false;
  readonly #onError: (error: unknown) => void;

  /** `onError`: hears of a body's run that threw (a bug: runs answer their request themselves) */
  constructor(onError: (error: unknown) => void) {
    this.#onError = onError;
  }

  /** Runs `run` on its turn, with how long it waited: in arrival order, after the loop has come round once at least. */
  enqueue(run: (waitedMs: number) => void): void {
    this.#waiting.push({ run, since: performance.now() });
    if (!this.#active) this.#schedule();
  }

  /** Counts a request with a body that arrived, whether it will be read or refused before reading. */
  arrived(): void {
    this.#arrived++;
  }

  /** In the last complete window, requests with bodies arrived faster than the queue took bodies (OUTPACED_RATIO). */
  get outpaced(): boolean {
    this.#roll(performance.now());
    return this.#outpaced;
  }

  #roll(now: number): void {
    if (now - this.#windowStart < RATE_WINDOW_MS) return;
    this.#outpaced = this.#arrived > OUTPACED_RATIO * this.#taken;
    this.#arrived = 0;
    this.#taken = 0;
    this.#windowStart = now;
  }

  /** ms the oldest waiting body has waited (0 when none waits) */
  get waitMs(): number {
    const oldest = this.#waiting[this.#head];
    return oldest ? performance.now() - oldest.since : 0;
  }

  #schedule(): void {
    this.#active = true;
    setImmediate(this.#slice);
  }

  readonly #slice = (): void => {
    this.#sliceStart = performance.now();
    this.#step();
  };

  // One body per step, the next step a microtask: what a body's parse leaves to microtasks (the
  // route's handler after an await of something already settled, such as the in-memory rate
  // limiter) runs before the next body, inside the slice that pays for it. What waits for I/O (a
  // Redis limiter's answer, a key looked up in the source store) resumes outside the slices.
  readonly #step = (): void => {
    const next = this.#waiting[this.#head];
    if (!next) {
      this.#waiting = [];
      this.#head = 0;
      this.#active = false;
      return;
    }
    const now = performance.now();
    if (now - this.#sliceStart >= SLICE_MS) return this.#schedule();
    this.#roll(now);
    this.#taken++;
    this.#waiting[this.#head++] = undefined;
    if (this.#head > 1024 && this.#head * 2 > this.#waiting.length) {
      this.#waiting = this.#waiting.slice(this.#head);
      this.#head = 0;
    }
    try {
      next.run(now - next.since);
    } catch (error) {
      // Thrown from a microtask it would end the process, and every body queued behind it.
      this.#onError(error);
    }
    queueMicrotask(this.#step);
  };
}
