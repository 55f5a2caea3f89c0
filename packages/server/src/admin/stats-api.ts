// Per-source accounting over the admin API: received = stored + failed + duplicate, per source,
// over a window (and per minute for charts).
import type { FastifyInstance } from 'fastify';
import { statsReport, type OutcomeSource } from '../accounting.ts';
import { asParams, optionalBoolean, optionalString, optionalTime } from './params.ts';

export function registerStatsApi(app: FastifyInstance, outcomes: OutcomeSource): void {
  app.get('/api/stats', async (request) => {
    const query = asParams(request.query);
    const sinceMs = optionalTime(query, 'since') ?? Date.now() - 3600_000;
    return statsReport(outcomes, sinceMs, { sourceId: optionalString(query, 'source'), series: optionalBoolean(query, 'series') ?? false });
  });
}
