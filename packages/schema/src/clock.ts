const MAX_PAST_MS = 24 * 60 * 60 * 1000;
const MAX_FUTURE_MS = 30 * 60 * 1000;

/**
 * The event's time on the server's clock. When the client says both when the event happened
 * (`clientTime`) and when it sent it (`sentAt`), both readings share the device's clock error,
 * so `receivedAt - (sentAt - clientTime)` cancels it. Results more than 24 h in the past or
 * 30 min in the future are not believable and become server time.
 */
export function correctTimestamp(receivedAtMs: number, clientTime?: string, sentAt?: string): number {
  if (clientTime === undefined) return receivedAtMs;
  const client = Date.parse(clientTime);
  if (Number.isNaN(client)) return receivedAtMs;
  const sent = sentAt === undefined ? Number.NaN : Date.parse(sentAt);
  const corrected = Number.isNaN(sent) ? client : receivedAtMs - (sent - client);
  if (corrected < receivedAtMs - MAX_PAST_MS || corrected > receivedAtMs + MAX_FUTURE_MS) return receivedAtMs;
  return corrected;
}
