// Asks a broker for cluster metadata with a hand-built Metadata v4 request (the oldest version
// Kafka 4.x still answers) and returns the ids of the brokers it lists. An open TCP port is not
// enough: the broker must have joined the quorum and be unfenced before it lists itself.
import net from 'node:net';

const METADATA = 3;
const VERSION = 4;
const CLIENT_ID = 'inlet-kafka-probe';

function request(correlationId) {
  const client = Buffer.from(CLIENT_ID);
  const body = Buffer.alloc(2 + 2 + 4 + 2 + client.length + 4 + 1);
  let o = 0;
  o = body.writeInt16BE(METADATA, o);
  o = body.writeInt16BE(VERSION, o);
  o = body.writeInt32BE(correlationId, o);
  o = body.writeInt16BE(client.length, o);
  o += client.copy(body, o);
  o = body.writeInt32BE(0, o); // an empty topic list: brokers only, no topics
  body.writeInt8(0, o); // allow_auto_topic_creation = false
  const size = Buffer.alloc(4);
  size.writeInt32BE(body.length);
  return Buffer.concat([size, body]);
}

function parseBrokerIds(response, correlationId) {
  let o = 0;
  if (response.readInt32BE(o) !== correlationId) throw new Error('metadata response for another request');
  o += 4 + 4; // correlation id, throttle_time_ms
  const count = response.readInt32BE(o);
  o += 4;
  const ids = [];
  for (let i = 0; i < count; i++) {
    ids.push(response.readInt32BE(o));
    o += 4;
    o += 2 + response.readInt16BE(o); // host
    o += 4; // port
    const rack = response.readInt16BE(o);
    o += 2 + Math.max(rack, 0);
  }
  return ids;
}

/** Broker ids listed by the broker at host:port, or null when it does not answer in time. */
export function probeBrokerIds(host, port, timeoutMs = 2000) {
  return new Promise((resolve) => {
    const correlationId = Math.floor(Math.random() * 0x7fffffff);
    const socket = net.connect({ host, port });
    let received = Buffer.alloc(0);
    const finish = (ids) => { clearTimeout(timer); socket.destroy(); resolve(ids); };
    const timer = setTimeout(() => finish(null), timeoutMs);
    socket.once('connect', () => socket.write(request(correlationId)));
    socket.on('data', (chunk) => {
      received = Buffer.concat([received, chunk]);
      if (received.length < 4) return;
      const size = received.readInt32BE(0);
      if (received.length < 4 + size) return;
      try {
        finish(parseBrokerIds(received.subarray(4, 4 + size), correlationId));
      } catch {
        finish(null);
      }
    });
    socket.once('error', () => finish(null));
    socket.once('close', () => finish(null));
  });
}
