export * from './services.ts';
export * from './kafka.ts';
export * from './inlet.ts';
export * from './ports.ts';
