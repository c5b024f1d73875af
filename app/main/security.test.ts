import { describe, expect, it } from 'vitest';
import { contentSecurityPolicy, metaPolicy, withMetaPolicy } from './security.ts';
import { walletIconOrigins, walletsList } from './services/wallets-list.ts';

const directive = (policy: string, name: string) => policy.split('; ').find((d) => d.startsWith(`${name} `))?.split(' ').slice(1) ?? [];
const remoteOrigins = (policy: string) => policy.split(/[; ]+/).filter((t) => /^https?:\/\//.test(t) || /^wss?:\/\/(?!127\.0\.0\.1:\*|localhost:\*)/.test(t));

describe('the CSP as a function of the network', () => {
  it('local admits no remote origin at all: only self, data: images and the loopback WebSocket', () => {
    const p = contentSecurityPolicy('local');
    expect(remoteOrigins(p)).toEqual([]);
    expect(directive(p, 'img-src')).toEqual(["'self'", 'data:']);
    expect(directive(p, 'connect-src')).toEqual(["'self'", 'ws://127.0.0.1:*', 'ws://localhost:*']);
    expect(directive(p, 'script-src')).toEqual(["'self'"]);
  });

  it.each(['testnet', 'mainnet'] as const)('%s admits exactly the https icon origins of its wallet list, for images only', (network) => {
    const p = contentSecurityPolicy(network);
    const icons = walletsList(network).map((w) => new URL(w.image).origin);
    expect(directive(p, 'img-src').slice(2).sort()).toEqual([...new Set(icons)].sort());
    expect(remoteOrigins(p).sort()).toEqual([...new Set(icons)].sort());
    for (const o of walletIconOrigins(network)) expect(o).toMatch(/^https:\/\//);
    // TON Connect and the TON API run in main: no bridge or endpoint in connect-src, ever.
    const bridges = walletsList(network).flatMap((w) => w.bridge.map((b) => new URL(b.url).origin));
    for (const b of bridges) expect(directive(p, 'connect-src')).not.toContain(b);
    expect(directive(p, 'connect-src')).toEqual(["'self'", 'ws://127.0.0.1:*', 'ws://localhost:*']);
    expect(directive(p, 'script-src')).toEqual(["'self'"]);
  });

  it('writes the running network\'s policy into index.html\'s meta tag, minus frame-ancestors', () => {
    const html = '<head><meta http-equiv="Content-Security-Policy" content="default-src \'self\'" /></head>';
    const served = withMetaPolicy(html, contentSecurityPolicy('mainnet'));
    const meta = /content="([^"]+)"/.exec(served)![1]!;
    expect(meta).toBe(metaPolicy(contentSecurityPolicy('mainnet')));
    expect(meta).not.toMatch(/frame-ancestors/);
    expect(meta).toMatch(/img-src 'self' data: https:\/\//);
  });
});
