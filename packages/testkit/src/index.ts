export * from './services.ts';
export * from './kafka.ts';
