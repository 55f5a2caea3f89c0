// Bodies read and waiting for the main thread to parse and prepare them. Parsing a batch of 100
// events and preparing its records takes 0.6-1.1 ms of this one thread (by machine); when bodies
// arrive faster than that, parsing each as its last byte arrives made one turn of the loop parse
// every body that completed in it: 60-130 ms turns under a 2x overload, during which no socket was
// read, so every request waited that long, refusals included. Here the bodies wait in arrival
// order and are taken in slices of SLICE_MS; between slices the loop reads its sockets, answers,
// and refuses what arrives while the queue is long (routes/ingest.ts): a refusal waits for one
// slice, not for every body ahead of it. At 2 ms (two or three batches) the loop's turns under that
// overload lasted 7-12 ms at most in each 250 ms window, against 10-20 ms at 5 ms; the extra turns
// cost nothing measurable (bench/LOG.md, 2026-12-05).
const SLICE_MS = 2;
/**
 * Whether more large batches arrive than are taken (`outpaced`), over windows this long: long
 * against the bursts of a closed loop (a group commit answers 50 clients at once, and they send 50
 * bodies within a few ms), short against an overload's onset: the verdict follows a change within
 * one to two windows, which the late bound (../body.ts) covers.
 */
const RATE_WINDOW_MS = 500;
/**
 * Batches arriving per batch taken above which the thread is outpaced: a closed loop brings ~1, an
 * overload of 2x its peak ~2. A batch refused as late on its turn counts as taken: in a closed loop
 * whose bodies wait past the late bound (a slow machine), those refusals are resent at once, and
 * counting them as arrivals only would have the loop look outpaced (a closed loop of 50 then got
 * 353 and 20 503s in two rounds, most from the 100 ms rule; none in fourteen rounds while they
 * counted as taken). The price: an overload that the late bound alone absorbs looks like a closed
 * loop too. Were the 100 ms rule off through a whole window of one, it would stay off, and the late
 * bound would refuse the excess after 150 ms instead of at once. An overload's onset turns it on
 * (more arrive than are taken before any body is late), and its own refusals keep it on: under the
 * embedded store's overloads it refused three to four times what came late (bench/LOG.md,
 * 2026-12-06, 11:30 UTC session).
 */
const OUTPACED_RATIO = 1.25;

/** What admission reads of the queue and tells it (the ingest routes; tests stand in for it). */
export type BodyWait = Pick<BodyQueue, 'waitMs' | 'outpaced' | 'arrived' | 'taken'>;

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
  /** the window's start, and the batches that arrived and were taken in it */
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

  /**
   * Counts a large batch whose request arrived, told by the route before it decides whether to read
   * the body (refused ones count: they are what the thread would otherwise have had to take).
   */
  arrived(): void {
    this.#roll(performance.now());
    this.#arrived++;
  }

  /** Counts a large batch that had its turn: parsed, or refused as late (../body.ts). */
  taken(): void {
    this.#roll(performance.now());
    this.#taken++;
  }

  /** In the last complete window, large batches arrived faster than they were taken (OUTPACED_RATIO). */
  get outpaced(): boolean {
    this.#roll(performance.now());
    return this.#outpaced;
  }

  #roll(now: number): void {
    const age = now - this.#windowStart;
    if (age < RATE_WINDOW_MS) return;
    // A window twice as long as it should be was mostly idle: it says nothing of the load now.
    this.#outpaced = age < 2 * RATE_WINDOW_MS && this.#arrived > OUTPACED_RATIO * this.#taken;
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
