// The machine's ceiling for this API shape: Fastify parses the JSON body and answers 200 at once.
// No auth, no validation, no storage. Nothing that stores events can beat it on the same box.
import Fastify from 'fastify';

const port = Number(process.env.PORT ?? 8090);
const host = process.env.HOST ?? '127.0.0.1';

const app = Fastify({ logger: false, bodyLimit: 2 * 1024 * 1024 });

app.post('/v1/batch', async (request) => {
  const body = request.body as { batch?: unknown };
  return { accepted: Array.isArray(body?.batch) ? body.batch.length : 0, rejected: 0 };
});
app.post('/v1/track', async () => ({ accepted: 1, rejected: 0 }));
app.get('/v1/ping', async (_request, reply) => reply.code(204).send());

await app.listen({ port, host });
console.log(`ceiling listening on http://${host}:${port}`);

const stop = () => { app.close().then(() => process.exit(0), () => process.exit(1)); };
process.once('SIGTERM', stop);
process.once('SIGINT', stop);
