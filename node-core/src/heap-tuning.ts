import { setFlagsFromString } from 'node:v8';

/**
 * How a long-running Node process of ours (a role, `cocoon up`, the app) sizes its heap.
 *
 * `--heap-growing-percent=100`: after each full collection the old generation may grow to twice
 * what survived before the next one starts. Left to itself V8 derives that factor from its
 * estimate of collection speed against allocation speed, and under relay load it picks 1.1–1.2:
 * with ~34 MB live in a proxy that leaves 4–10 MB of room, less than the young generation
 * (16 MB) it holds in reserve for promotion, so incremental marking starts again as soon as a
 * collection ends. The proxy then spends about half its CPU in back-to-back major collections,
 * mostly on V8's helper threads, which on a 2-core host take the cores the relay needs. Seen with
 * `--trace-gc-verbose`: a full collection every ~150 ms, "Start (task): 34MB / 44MB"; the proxy's
 * CPU per request rises from about half the client's to about as much (`npm run bench -- idle-gc`
 * runs it with and without this tuning). It sets in after a few idle seconds and lasts
 * until restart (node-core/bench/README.md, "Fifth session"). Cost: a heap may reach twice its
 * live size (~70 MB for a proxy) before it is collected.
 *
 * V8 reads this flag at every full collection, so setting it at startup is enough (it could also
 * be given on node's command line; NODE_OPTIONS refuses it). `COCOON_HEAP_TUNING=off` leaves V8's
 * own choice, to measure the difference (`npm run bench -- idle-gc`).
 */
export const HEAP_FLAGS: readonly string[] = ['--heap-growing-percent=100'];

export function tuneHeap(): void {
  if (process.env.COCOON_HEAP_TUNING === 'off') return;
  for (const flag of HEAP_FLAGS) setFlagsFromString(flag);
}
