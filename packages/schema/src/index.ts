export * from './event.ts';
export * from './limits.ts';
export * from './validate.ts';
export * from './normalize.ts';
export { correctTimestamp, isoTime, isTimestamp, parseDate } from './clock.ts';
export * from './ip.ts';
export { newMessageId, uuid } from './uuid.ts';
export * from './collect-headers.ts';
