// The processor's default logger: pino, as the server's, so one log pipeline parses the lines of
// both. Same shape: `level` as pino's number (30 info, 40 warn, 50 error), `time` in epoch ms,
// `pid`, `hostname`, then `component` ("processor"), the line's fields, and `msg` last; every line
// on stdout, as the server writes them (it used to be level names, ISO times, and warnings on
// stderr). What is logged is counts, ids, topics and error descriptions, never an event.
import { pino, type Logger } from 'pino';
import type { ProcessorLogger } from './options.ts';

/** ProcessorLogger's (message, fields) over pino's (fields, message), under a `component` of its own. */
export function pinoProcessorLogger(base: Logger): ProcessorLogger {
  const log = base.child({ component: 'processor' });
  return {
    info: (message, fields) => log.info(fields ?? {}, message),
    warn: (message, fields) => log.warn(fields ?? {}, message),
    error: (message, fields) => log.error(fields ?? {}, message),
  };
}

let shared: ProcessorLogger | undefined;

/** One logger (one stdout stream) for every processor of the process that was given none. */
export function defaultProcessorLogger(): ProcessorLogger {
  return (shared ??= pinoProcessorLogger(pino()));
}
