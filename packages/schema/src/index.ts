export * from './event.ts';
export * from './limits.ts';
export * from './validate.ts';
export * from './normalize.ts';
export { correctTimestamp, isoTime, isTimestamp } from './clock.ts';
export * from './ip.ts';
export { newMessageId } from './message-id.ts';
export * from './collect-headers.ts';
