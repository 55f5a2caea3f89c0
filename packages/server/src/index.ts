export { buildApp, type AppDeps } from './app.ts';
export { loadConfig, configWith, ConfigError, SETTINGS, type Config } from './config.ts';
export { startServer, openSink, openSourceStore, type RunningServer, type ServerParts } from './server.ts';
export { Errors, InletError, SinkUnavailableError, SourceStoreUnavailableError } from './errors.ts';
export type { Sink, StoredEvent } from './sinks/sink.ts';
export { EmbeddedSink } from './sinks/embedded-sink.ts';
export type { Source, SourceStore, NewSource } from './sources/source-store.ts';
export { SqliteSourceStore } from './sources/sqlite-store.ts';
export { readStoredEvents } from './sinks/sqlite-reader.ts';
