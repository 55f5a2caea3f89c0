export { Analytics, VERSION } from './analytics.ts';
export type { AnalyticsOptions, BrowserEvent, EventMap, EventType, Plugin, Properties, PropertiesArgument } from './types.ts';
