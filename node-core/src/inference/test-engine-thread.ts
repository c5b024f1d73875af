import { once } from 'node:events';
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';
import { CocoonError } from '../errors.ts';
import { startTestEngine, type TestEngine, type TestEngineOptions, type TestEngineStats } from './test-engine.ts';

/**
 * The test engine on its own thread. Tokenizing a multi-megabyte prompt takes seconds of CPU; in
 * the local network every role shares one event loop, so an engine on that loop stalled every
 * relay — a tiny request waited ~10 s behind four 3.9 MB prompts. A GPU engine is another
 * process; on its own thread the test engine is, too, as far as the relay loop is concerned.
 * Stats are shared memory, so `stats()` stays synchronous.
 */
export type ThreadEngineOptions = Omit<TestEngineOptions, 'log'>;

const STAT_KEYS = ['requests', 'completed', 'cancelled', 'active'] as const;

export async function startTestEngineThread(opts: ThreadEngineOptions = {}): Promise<TestEngine> {
  const shared = new Int32Array(new SharedArrayBuffer(4 * STAT_KEYS.length));
  const thread = new Worker(new URL('./test-engine-thread.mjs', import.meta.url), { workerData: { cocoonTestEngine: opts, shared } });
  const ready = await new Promise<{ url: string; model: string }>((resolve, reject) => {
    thread.once('message', resolve);
    thread.once('error', reject);
    thread.once('exit', (code) => reject(new CocoonError('engine_thread_exited', `the test engine thread exited with code ${code} before it was ready`)));
  });
  let stopped = false;
  return {
    url: ready.url,
    model: ready.model,
    stats: () => Object.fromEntries(STAT_KEYS.map((k, i) => [k, Atomics.load(shared, i)])) as unknown as TestEngineStats,
    async stop() {
      if (stopped) return;
      stopped = true;
      const exited = once(thread, 'exit');
      thread.postMessage('stop');
      await Promise.race([exited, new Promise((r) => setTimeout(r, 3000).unref())]);
      await thread.terminate();
    },
  };
}

/** The thread side: starts the engine, mirrors its stats into shared memory, stops on request. */
export async function serveFromThread(): Promise<void> {
  if (isMainThread || !parentPort) throw new Error('serveFromThread runs in the test engine thread only');
  const { cocoonTestEngine: opts, shared } = workerData as { cocoonTestEngine: ThreadEngineOptions; shared: Int32Array };
  const engine = await startTestEngine(opts);
  const mirror = setInterval(() => {
    const s = engine.stats();
    STAT_KEYS.forEach((k, i) => Atomics.store(shared, i, s[k]));
  }, 10);
  parentPort.on('message', (m) => {
    if (m !== 'stop') return;
    clearInterval(mirror);
    void engine.stop().finally(() => parentPort!.close());
  });
  parentPort.postMessage({ url: engine.url, model: engine.model });
}
