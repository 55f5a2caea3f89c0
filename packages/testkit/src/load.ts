// A bounded HTTP load that remembers which events the server acknowledged: the evidence every
// durability check compares the store (or topic) against. Each client posts batches of its own
// messageIds to /v1/batch, one request at a time, and may retry a refused batch with the same
// ids, as the SDKs do.
import http from 'node:http';

export interface LoadOptions {
  /** the server's base URL, or a function (the server may be replaced while the load runs) */
  url: string | (() => string);
  writeKey: string;
  clients: number;
  batchSize: number;
  /** messageIds are `${idPrefix}c<client>-b<batch>-e<i>` */
  idPrefix?: string;
  /** attempts after the first for a batch that did not get 200 (default 0: move on) */
  retries?: number;
  /** the whole load's ceiling in requests per second (default: as fast as answers come) */
  requestsPerSecond?: number;
  /** a request without an answer by then counts as 'timeout' (default 15 s) */
  requestTimeoutMs?: number;
  /** more properties for every event (to make events bigger, say) */
  properties?: Record<string, unknown>;
  /** events without their `event` name: each one refused by validation and kept as a failed event */
  invalid?: boolean;
  /**
   * Every `resendEvery`-th batch that got 200 is sent once more with the same messageIds, as a
   * client does whose first answer was lost: real repeats for deduplication to remove.
   */
  resendEvery?: number;
}

export interface Load {
  /** messageIds the server answered 200 for */
  acknowledged: Set<string>;
  /** every messageId sent, answered or not */
  sent: Set<string>;
  /** HTTP status, or the error code when there was no answer (ECONNREFUSED, timeout, ...) */
  statuses: Map<number | string, number>;
  /** every 200: when its request was sent and when the answer came (performance.now()), in answer order */
  successes: { sentAt: number; answeredAt: number }[];
  /** when the first 200 came for a request sent at or after `since` (performance.now() time), if any */
  firstSuccessSentAfter(since: number): number | undefined;
  /** when the first 200 came at or after `since`, if any */
  firstSuccessAnsweredAfter(since: number): number | undefined;
  /** stop sending; resolves when every client's last request has settled */
  stop(): Promise<void>;
}

function post(agent: http.Agent, url: string, writeKey: string, body: string, timeoutMs: number): Promise<number> {
  return new Promise((done, fail) => {
    const req = http.request(`${url}/v1/batch`, {
      method: 'POST', agent,
      headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body), authorization: `Basic ${Buffer.from(`${writeKey}:`).toString('base64')}` },
    }, (res) => {
      res.resume();
      res.on('end', () => done(res.statusCode ?? 0));
      res.on('error', fail);
    });
    req.setTimeout(timeoutMs, () => req.destroy(Object.assign(new Error('no answer in time'), { code: 'timeout' })));
    req.on('error', fail);
    req.end(body);
  });
}

export function startLoad(options: LoadOptions): Load {
  const { writeKey, clients, batchSize, idPrefix = '', retries = 0, requestTimeoutMs = 15_000, properties = {} } = options;
  const urlOf = typeof options.url === 'function' ? options.url : () => options.url as string;
  const acknowledged = new Set<string>();
  const sent = new Set<string>();
  const statuses = new Map<number | string, number>();
  const successes: { sentAt: number; answeredAt: number }[] = [];
  const count = (key: number | string) => statuses.set(key, (statuses.get(key) ?? 0) + 1);
  // A shared pacer: each request takes the next slot of 1/rate seconds.
  const interval = options.requestsPerSecond ? 1000 / options.requestsPerSecond : 0;
  let nextSlot = performance.now();
  const pace = async () => {
    if (!interval) return;
    const now = performance.now();
    nextSlot = Math.max(nextSlot + interval, now);
    if (nextSlot > now) await new Promise((r) => setTimeout(r, nextSlot - now));
  };
  let running = true;
  const loops = Array.from({ length: clients }, async (_, client) => {
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    for (let seq = 0; running; seq++) {
      const ids = Array.from({ length: batchSize }, (_, i) => `${idPrefix}c${client}-b${seq}-e${i}`);
      for (const id of ids) sent.add(id);
      const body = JSON.stringify({ batch: ids.map((messageId) => ({ type: 'track', userId: `user-${client}`, event: options.invalid ? undefined : 'Load', messageId, properties: { seq, ...properties } })) });
      for (let attempt = 0; attempt <= retries && running; attempt++) {
        await pace();
        const sentAt = performance.now();
        try {
          const status = await post(agent, urlOf(), writeKey, body, requestTimeoutMs);
          count(status);
          if (status === 200) {
            for (const id of ids) acknowledged.add(id);
            successes.push({ sentAt, answeredAt: performance.now() });
            if (options.resendEvery && seq % options.resendEvery === 0) count(await post(agent, urlOf(), writeKey, body, requestTimeoutMs).catch((e: { code?: string }) => e.code ?? 'error'));
            break;
          }
          await new Promise((r) => setTimeout(r, 50));
        } catch (error) {
          count((error as { code?: string }).code ?? 'error');
          await new Promise((r) => setTimeout(r, 50));
        }
      }
    }
    agent.destroy();
  });
  return {
    acknowledged, sent, statuses, successes,
    firstSuccessSentAfter: (since) => successes.find((s) => s.sentAt >= since)?.answeredAt,
    firstSuccessAnsweredAfter: (since) => successes.find((s) => s.answeredAt >= since)?.answeredAt,
    stop: async () => { running = false; await Promise.all(loops); },
  };
}
