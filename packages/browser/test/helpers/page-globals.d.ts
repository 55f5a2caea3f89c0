// What the test pages put on `window`, for the functions passed to page.evaluate().
import type { Analytics } from '../../src/index.ts';

declare global {
  interface Window {
    analytics: Analytics;
    ready?: boolean;
    Inlet: { Analytics: typeof Analytics };
  }
  var analytics: Analytics;
  var inlet: Analytics | unknown[];
}
