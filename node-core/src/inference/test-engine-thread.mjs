// Entry of the test engine's worker thread (see test-engine-thread.ts): threads start without
// the TypeScript loader, so it is registered here before the engine's sources are imported.
import { register } from 'tsx/esm/api';

register();
const { serveFromThread } = await import('./test-engine-thread.ts');
await serveFromThread();
