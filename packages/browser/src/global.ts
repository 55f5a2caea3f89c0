// Entry of the IIFE build (dist/inlet.min.js, global `Inlet`). When the loader snippet from the
// README ran first, `window.inlet` is its queue: create the instance and replay the calls.
// The global is set here rather than by esbuild's globalName, whose module wrapper cost ~200 bytes
// gzipped of the 4 KB budget (4,171 against 3,974 B for the same source, 2026-12-06).
import { Analytics } from './analytics.ts';

type Call = [method: string, args: unknown[], at?: number];
type Stub = Call[] & { options?: ConstructorParameters<typeof Analytics>[0] };

const w = window as unknown as { inlet?: Stub | Analytics; Inlet: { Analytics: typeof Analytics } };
w.Inlet = { Analytics };
const stub = w.inlet;
if (Array.isArray(stub) && stub.options) {
  const analytics = new Analytics(stub.options);
  w.inlet = analytics;
  for (const [method, args, at] of stub) {
    analytics._at = at || 0;
    try {
      (analytics as unknown as Record<string, (...a: unknown[]) => unknown>)[method](...args);
    } catch (error) {
      console.error(error);
    }
  }
  analytics._at = 0;
}
