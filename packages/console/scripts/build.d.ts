/** The console's files (dist/ file name → text), built in memory from the current source. */
export function bundles(): Promise<Record<string, string>>;
/** Bytes of the script and stylesheet, raw and gzipped. */
export function sizes(files: Record<string, string>): { raw: number; gzip: number };
