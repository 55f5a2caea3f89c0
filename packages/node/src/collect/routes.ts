// What the collect proxy forwards: a fixed table from the site's paths (after the prefix) to the
// Inlet server's. The upstream path is always taken from this table, never built from the
// request, so no request can reach another path of Inlet (or another host) through it.

export interface Route {
  /** path on the Inlet server, after the target's base path */
  upstream: string;
  methods: readonly string[];
  /** an ingestion route: carries the identity cookie */
  ingest: boolean;
}

const INGEST = ['track', 'identify', 'page', 'screen', 'group', 'alias', 'batch', 'import'];
/** the short routes of Segment's analytics-next (/v1/t, /v1/p, ...) */
const SHORT = ['t', 'i', 'p', 's', 'g', 'a', 'b'];

export const ROUTES: ReadonlyMap<string, Route> = new Map<string, Route>([
  // A neutral name on the site: blockers match file names such as analytics.js or inlet.min.js.
  ['/sdk.js', { upstream: '/sdk/inlet.min.js', methods: ['GET', 'HEAD'], ingest: false }],
  ...[...INGEST, ...SHORT].map((name): [string, Route] => [`/v1/${name}`, { upstream: `/v1/${name}`, methods: ['POST'], ingest: true }]),
]);
