import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const MODULE = fileURLToPath(new URL('./heap-tuning.ts', import.meta.url));

/** The growing factors V8 chose at each full collection of a child process that allocates enough to need some. */
function growingFactors(tune: boolean, env: NodeJS.ProcessEnv = {}): string[] {
  const script = `${tune ? `const { tuneHeap } = await import(${JSON.stringify(MODULE)}); tuneHeap();` : ''}
    const keep = []; for (let i = 0; i < 2e6; i++) keep.push({ i, s: 'x' + i }); console.log(keep.length);`;
  const out = execFileSync(process.execPath, ['--import', 'tsx', '--trace-gc-verbose', '--input-type=module', '-e', script], { encoding: 'utf8', env: { ...process.env, ...env } });
  return out.split('\n').filter((line) => line.includes('[HeapController] Limit:')).map((line) => /\((\d+\.\d)\)$/.exec(line)?.[1] ?? line);
}

describe('tuneHeap', () => {
  it('makes every full collection leave the old generation room to double', () => {
    const tuned = growingFactors(true);
    expect(tuned.length).toBeGreaterThan(0);
    expect(new Set(tuned)).toEqual(new Set(['2.0']));
  });

  it('changes what V8 would pick by itself (the test would pass without it otherwise)', () => {
    expect(growingFactors(false).some((f) => f !== '2.0')).toBe(true);
  });

  it('leaves V8 its own choice with COCOON_HEAP_TUNING=off (to measure the difference)', () => {
    expect(growingFactors(true, { COCOON_HEAP_TUNING: 'off' }).some((f) => f !== '2.0')).toBe(true);
  });
});
