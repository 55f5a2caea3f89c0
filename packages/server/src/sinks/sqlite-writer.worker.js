// Worker threads do not inherit the TypeScript loader; register it, then run the writer.
import { register } from 'tsx/esm/api';

register();
await import('./sqlite-writer.ts');
