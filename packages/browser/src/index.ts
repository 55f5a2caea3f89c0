export { Analytics, VERSION } from './analytics.ts';
export type { AnalyticsOptions, BrowserEvent, EventType, Plugin, Properties } from './types.ts';
