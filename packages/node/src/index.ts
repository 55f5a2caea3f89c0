export { ServerAnalytics, SYSTEM_ANONYMOUS_ID, type ShutdownOptions, type ServerAnalyticsEvents, type EventMap, type TrackArguments } from './analytics.ts';
export { InvalidSettingError, type ServerAnalyticsOptions, type KafkaOptions, type AppInfo } from './settings.ts';
export type { EventOptions, Id } from './event-factory.ts';
export type { DropInfo, DropReason, Stats } from './publisher.ts';
export { inletExpress, type InletExpressOptions } from './express.ts';
export { inletFastify, type InletFastifyOptions } from './fastify.ts';
export { inletCollect, CollectError, type InletCollectOptions, type InletCollectFastifyOptions } from './collect/index.ts';
