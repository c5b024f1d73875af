/** The image build refuses unpinned pip requirements (fail closed) and accepts hashed ones. */
import { describe, it, expect } from 'vitest';
import { execFileSync, spawnSync } from 'node:child_process';
import { copyFileSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const script = join(import.meta.dirname, 'check-pins.sh');

describe('td-image/check-pins.sh', () => {
  it('refuses the committed requirement files, naming what must be pinned', () => {
    const r = spawnSync('bash', [script], { encoding: 'utf8' });
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/engine-requirements.txt: vllm==/);
    expect(r.stderr).toMatch(/gpu-attest-requirements.txt: nv-local-gpu-verifier==/);
  });
  it('passes when every requirement carries a hash (continuation lines included), and fails on one without', () => {
    const dir = mkdtempSync(join(tmpdir(), 'pins-'));
    copyFileSync(script, join(dir, 'check-pins.sh'));
    writeFileSync(join(dir, 'engine-requirements.txt'), `# comment\nvllm==0.11.0 \\\n    --hash=sha256:${'a'.repeat(64)}\n`);
    writeFileSync(join(dir, 'gpu-attest-requirements.txt'), `nv-local-gpu-verifier==2.6.0 --hash=sha256:${'b'.repeat(64)}\n`);
    execFileSync('bash', [join(dir, 'check-pins.sh')]);
    writeFileSync(join(dir, 'gpu-attest-requirements.txt'), `nv-local-gpu-verifier==2.6.0 --hash=sha256:${'b'.repeat(64)}\nnvidia-ml-py==12.575.51\n`);
    const r = spawnSync('bash', [join(dir, 'check-pins.sh')], { encoding: 'utf8' });
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/nvidia-ml-py==12.575.51/);
    expect(r.stderr).not.toMatch(/nv-local-gpu-verifier/);
  });
});
