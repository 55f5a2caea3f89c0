// The reference design: the straightforward ingestion server this project started from, written
// plainly so Inlet has a fixed point to be measured against. Fastify; @fastify/rate-limit on Redis
// keyed by write key; per-event validation in plain code; each request awaits one producer.send
// of its events (GZIP) through a kafkajs idempotent producer with up to 5 requests in flight.
import { randomUUID } from 'node:crypto';
import Fastify, { type FastifyRequest } from 'fastify';
import rateLimit from '@fastify/rate-limit';
import { Redis } from 'ioredis';
import { CompressionTypes, Kafka, logLevel, Partitioners } from 'kafkajs';

const env = process.env;
const port = Number(env.PORT ?? 8091);
const host = env.HOST ?? '127.0.0.1';
const brokers = (env.KAFKA_BROKERS ?? '127.0.0.1:9092').split(',');
const topic = env.KAFKA_TOPIC ?? 'raw-events';
const redisUrl = env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const requestsPerMinute = Number(env.RATE_LIMIT_REQUESTS_PER_MINUTE ?? 60_000);
// kafkajs refuses acks=1 on an idempotent producer, so the design's "idempotent + acks 1" is
// idempotent + acks=-1 by default; REFERENCE_ACKS=1 gives acks 1 without idempotence. On a
// one-broker topic with one replica both wait for the same thing: the leader's append.
const acks = Number(env.REFERENCE_ACKS ?? -1);
const idempotent = acks === -1;

const TYPES = new Set(['track', 'identify', 'page', 'screen', 'group', 'alias']);
const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const isId = (v: unknown) => (typeof v === 'string' && v.length > 0) || typeof v === 'number';
const isTime = (v: unknown) => v === undefined || (typeof v === 'string' && !Number.isNaN(Date.parse(v)));

function validate(event: unknown, routeType: string | undefined): string | undefined {
  if (!isObject(event)) return 'event must be an object';
  const type = routeType ?? event.type;
  if (typeof type !== 'string' || !TYPES.has(type)) return 'unknown type';
  if (!isId(event.userId) && !isId(event.anonymousId)) return 'userId or anonymousId is required';
  if (type === 'track' && (typeof event.event !== 'string' || event.event === '')) return 'event is required';
  if (event.messageId !== undefined && typeof event.messageId !== 'string') return 'messageId must be a string';
  for (const field of ['properties', 'traits', 'context', 'integrations']) {
    if (event[field] !== undefined && !isObject(event[field])) return `${field} must be an object`;
  }
  if (!isTime(event.timestamp) || !isTime(event.originalTimestamp) || !isTime(event.sentAt)) return 'invalid timestamp';
  return undefined;
}

function writeKeyOf(request: FastifyRequest): string | undefined {
  const auth = request.headers.authorization;
  if (auth?.startsWith('Basic ')) return Buffer.from(auth.slice(6), 'base64').toString('utf8').split(':')[0] || undefined;
  const body = request.body as { writeKey?: unknown } | undefined;
  return typeof body?.writeKey === 'string' && body.writeKey ? body.writeKey : undefined;
}

const kafka = new Kafka({ clientId: 'reference-ingest', brokers, logLevel: logLevel.ERROR });
const producer = kafka.producer({ idempotent, maxInFlightRequests: 5, createPartitioner: Partitioners.DefaultPartitioner });
await producer.connect();

const redis = new Redis(redisUrl, { maxRetriesPerRequest: 2 });
const app = Fastify({ logger: false, bodyLimit: 2 * 1024 * 1024 });
await app.register(rateLimit, {
  max: requestsPerMinute,
  timeWindow: '1 minute',
  redis,
  nameSpace: `reference-rl-${process.pid}-`,
  hook: 'preHandler', // after the body is parsed, so a key in the body counts too
  keyGenerator: (request) => writeKeyOf(request) ?? request.ip,
});

async function ingest(request: FastifyRequest, routeType: string | undefined) {
  const body = request.body;
  if (!isObject(body)) return { status: 400, payload: { error: 'body must be a JSON object' } };
  if (!writeKeyOf(request)) return { status: 401, payload: { error: 'Missing write key' } };
  const items = routeType ? [body] : body.batch;
  if (!Array.isArray(items)) return { status: 400, payload: { error: 'batch must be an array' } };

  const receivedAt = new Date().toISOString();
  const messages = [];
  const errors = [];
  for (let index = 0; index < items.length; index++) {
    const problem = validate(items[index], routeType);
    if (problem) { errors.push({ index, errors: [problem] }); continue; }
    const event = items[index] as Record<string, unknown>;
    const record = { ...event, type: routeType ?? event.type, messageId: event.messageId ?? randomUUID(), receivedAt };
    messages.push({
      key: String(event.userId ?? event.anonymousId),
      value: JSON.stringify(record),
      headers: { 'event-type': String(record.type), 'message-id': String(record.messageId) },
    });
  }
  if (messages.length > 0) {
    try {
      await producer.send({ topic, messages, compression: CompressionTypes.GZIP, acks });
    } catch {
      return { status: 503, payload: { error: 'Kafka unavailable' } };
    }
  }
  return { status: 200, payload: { accepted: messages.length, rejected: errors.length, errors } };
}

for (const type of TYPES) {
  app.post(`/v1/${type}`, async (request, reply) => {
    const { status, payload } = await ingest(request, type);
    return reply.code(status).send(payload);
  });
}
app.post('/v1/batch', async (request, reply) => {
  const { status, payload } = await ingest(request, undefined);
  return reply.code(status).send(payload);
});
app.get('/v1/ping', async (_request, reply) => reply.code(204).send());

await app.listen({ port, host });
console.log(`reference listening on http://${host}:${port} (topic ${topic}, acks ${acks}, idempotent ${idempotent})`);

const stop = async () => {
  await app.close();
  await producer.disconnect();
  redis.disconnect();
  process.exit(0);
};
process.once('SIGTERM', () => { void stop(); });
process.once('SIGINT', () => { void stop(); });
