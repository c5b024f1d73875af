import { Address } from '@ton/core';
import { parseFlags, type CliCommand } from '../command.ts';
import { CocoonError } from '../../errors.ts';
import { nanoToTon } from '../../payments/pricing.ts';

const usage = 'cocoon root show [--network mainnet|testnet|local] [--json]\n       cocoon root add-image|remove-image --kind worker|proxy|model --hash H [--network N] [--mnemonic-file F] [--json]';

export const command: CliCommand = {
  summary: "read the root contract's configuration (prices, stakes, delays, proxies, allowlists, contract codes) and explain it",
  usage,
  async run(args) {
    const { values, positionals } = parseFlags(args, {
      json: { type: 'boolean' }, network: { type: 'string' }, kind: { type: 'string' }, hash: { type: 'string' }, 'mnemonic-file': { type: 'string' },
    }, usage);
    if ((positionals[0] === 'add-image' || positionals[0] === 'remove-image') && positionals.length === 1) {
      return changeImage(positionals[0] === 'add-image', values);
    }
    if (positionals[0] !== 'show' || positionals.length !== 1) {
      throw new CocoonError('bad_flag', `unknown root subcommand "${positionals.join(' ')}"`, { hint: `usage: ${usage}` });
    }
    const { resolveChainConfig } = await import('../../chain/config.ts');
    const { readRootData } = await import('../../chain/contract-state.ts');
    const env = values.network ? { ...process.env, COCOON_NETWORK: values.network as string } : process.env;
    const config = resolveChainConfig(env);
    if (!config.rootAddress) {
      throw new CocoonError('no_root_address', `no root contract address configured for ${config.network}`, { hint: 'set COCOON_ROOT_ADDRESS' });
    }
    let root;
    try {
      root = await readRootData(config, Address.parse(config.rootAddress));
    } catch (err) {
      if (err instanceof CocoonError && (err.code === 'root_not_deployed' || err.code === 'bad_contract_state')) throw err;
      throw new CocoonError('chain_unreachable', `could not read root ${config.rootAddress} on ${config.network} through ${config.endpoint}: ${(err as Error).message}`, {
        hint: config.network === 'local' ? 'is the local chain running? (`cocoon chain up`)' : 'this needs internet access to a TON HTTP API; set COCOON_TON_ENDPOINT (and COCOON_TON_API_KEY) to use another endpoint',
      });
    }
    const p = root.params;
    const hex = (h: bigint) => h.toString(16).padStart(64, '0');
    const codeHash = (c: { hash(): Buffer } | null | undefined) => (c ? c.hash().toString('hex') : null);
    const out = {
      network: config.network, endpoint: config.endpoint, rootAddress: config.rootAddress,
      owner: root.owner.toString(), version: root.version,
      params: {
        structVersion: p.structVersion, paramsVersion: p.paramsVersion, uniqueId: p.uniqueId, isTest: p.isTest,
        pricePerToken: p.pricePerToken.toString(), workerFeePerToken: p.workerFeePerToken.toString(),
        multipliers: { prompt: p.promptMultiplier, cached: p.cachedMultiplier, completion: p.completionMultiplier, reasoning: p.reasoningMultiplier },
        minProxyStake: p.minProxyStake.toString(), minClientStake: p.minClientStake.toString(),
        proxyDelayBeforeClose: p.proxyDelayBeforeClose, clientDelayBeforeClose: p.clientDelayBeforeClose,
      },
      proxies: root.proxies, lastProxySeqno: root.lastProxySeqno,
      allowedHashes: { proxyImages: root.proxyHashes.map(hex), workerImages: root.workerHashes.map(hex), models: root.modelHashes.map(hex) },
      codeHashes: { proxy: codeHash(root.codes.proxy), worker: codeHash(root.codes.worker), client: codeHash(root.codes.client) },
    };
    if (values.json) {
      process.stdout.write(JSON.stringify(out) + '\n');
      return 0;
    }
    const bp = (v: number) => `${(v / 10_000).toFixed(2)}x`;
    process.stdout.write([
      `root ${out.rootAddress} on ${out.network} (${out.endpoint})`,
      `  owner              ${out.owner} (changes the configuration)`,
      `  version            ${root.version} (every change), params version ${p.paramsVersion} (prices/codes; nodes re-create contracts when it moves)`,
      `  network id         unique id ${p.uniqueId}, ${p.isTest ? 'test' : 'production'} — part of every contract address`,
      `  price per token    ${p.pricePerToken} nanoTON paid by clients; ${p.workerFeePerToken} to the worker, ${p.pricePerToken - p.workerFeePerToken} to the proxy`,
      `  multipliers        prompt ${bp(p.promptMultiplier)}, cached ${bp(p.cachedMultiplier)}, completion ${bp(p.completionMultiplier)}, reasoning ${bp(p.reasoningMultiplier)}`,
      `  min stakes         proxy ${nanoToTon(p.minProxyStake)} TON, client ${nanoToTon(p.minClientStake)} TON`,
      `  close delays       proxy ${p.proxyDelayBeforeClose} s, client ${p.clientDelayBeforeClose} s`,
      `  proxies            ${root.proxies.length === 0 ? 'none' : ''}`,
      ...root.proxies.map((x) => `    #${x.seqno} workers ${x.addressForWorkers}, clients ${x.addressForClients}`),
      `  allowlists         ${root.proxyHashes.length} proxy images, ${root.workerHashes.length} worker images, ${root.modelHashes.length} models`,
      `  contract codes     proxy ${out.codeHashes.proxy ?? '-'}`,
      `                     worker ${out.codeHashes.worker ?? '-'}`,
      `                     client ${out.codeHashes.client ?? '-'}`,
    ].join('\n') + '\n');
    return 0;
  },
};

/**
 * `root add-image` / `remove-image`: the root owner's allowlist change. On the local chain the
 * owner is the development owner wallet; elsewhere the owner's mnemonic must be supplied.
 */
async function changeImage(add: boolean, values: { json?: boolean; network?: string; kind?: string; hash?: string; 'mnemonic-file'?: string }): Promise<number> {
  const { IMAGE_KINDS, changeAllowlist, ownerMnemonic, parseHash } = await import('../../image/allowlist.ts');
  const { resolveChainConfig } = await import('../../chain/config.ts');
  const kind = values.kind as (typeof IMAGE_KINDS)[number];
  if (!IMAGE_KINDS.includes(kind)) throw new CocoonError('bad_flag', `--kind must be one of ${IMAGE_KINDS.join(', ')}, got "${values.kind ?? ''}"`, { hint: `usage: ${usage}` });
  if (values.hash === undefined) throw new CocoonError('bad_flag', 'missing --hash (64 hex digits)', { hint: `usage: ${usage}` });
  const hash = parseHash(values.hash);
  const config = resolveChainConfig(values.network ? { ...process.env, COCOON_NETWORK: values.network } : process.env);
  let supplied = process.env.COCOON_OWNER_MNEMONIC || undefined;
  if (values['mnemonic-file']) {
    const { readFileSync } = await import('node:fs');
    try {
      supplied = readFileSync(values['mnemonic-file'], 'utf8');
    } catch (err) {
      throw new CocoonError('bad_flag', `cannot read --mnemonic-file ${values['mnemonic-file']}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`);
    }
  }
  const r = await changeAllowlist(config, ownerMnemonic(config, supplied), kind, hash, add);
  if (values.json) process.stdout.write(JSON.stringify({ ...r, network: config.network, rootAddress: config.rootAddress }) + '\n');
  else process.stdout.write(r.action === 'unchanged'
    ? `${kind} hash ${hash} was already ${add ? 'on' : 'off'} the allowlist of root ${config.rootAddress} (${config.network}); nothing sent\n`
    : `${r.action} ${kind} hash ${hash} ${add ? 'to' : 'from'} root ${config.rootAddress} (${config.network}); root version now ${r.rootVersion}\n`);
  return 0;
}
