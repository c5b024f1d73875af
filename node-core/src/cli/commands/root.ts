import { Address } from '@ton/core';
import { parseFlags, type CliCommand } from '../command.ts';
import { CocoonError } from '../../errors.ts';
import { nanoToTon } from '../../payments/pricing.ts';

const usage = 'cocoon root show [--json]';

export const command: CliCommand = {
  summary: "show the root contract's parameters on the configured network (default: the running local chain)",
  usage,
  async run(args) {
    const { values, positionals } = parseFlags(args, { json: { type: 'boolean' } }, usage);
    if (positionals[0] !== 'show' || positionals.length !== 1) {
      throw new CocoonError('bad_flag', `unknown root subcommand "${positionals.join(' ')}"`, { hint: `usage: ${usage}` });
    }
    const { resolveChainConfig } = await import('../../chain/config.ts');
    const { Chain } = await import('../../chain/chain.ts');
    const { Root } = await import('../../../../contracts/wrappers/Root.ts');
    const config = resolveChainConfig();
    if (!config.rootAddress) {
      throw new CocoonError('no_root_address', `no root contract address configured for ${config.network}`, {
        hint: 'set COCOON_ROOT_ADDRESS',
      });
    }
    const chain = new Chain(config);
    const root = chain.open(Root.createFromAddress(Address.parse(config.rootAddress)));
    const [params, version, owner, proxies, hashes] = await Promise.all([
      root.getParams(), root.getVersion(), root.getOwner(), root.getProxies(), root.getAllowedHashes(),
    ]);
    const hex = (h: bigint) => h.toString(16).padStart(64, '0');
    const out = {
      network: config.network,
      endpoint: config.endpoint,
      rootAddress: config.rootAddress,
      owner: owner.toString(),
      version,
      params: {
        pricePerToken: params.pricePerToken,
        workerFeePerToken: params.workerFeePerToken,
        multipliers: params.multipliers,
        minProxyStake: params.minProxyStake.toString(),
        minClientStake: params.minClientStake.toString(),
        clientCloseDelay: params.clientCloseDelay,
        proxyCloseDelay: params.proxyCloseDelay,
      },
      proxies: proxies.proxies.map((p) => ({ seqno: p.seqno, address: p.contractAddress.toString(), endpoint: p.endpoint })),
      allowedHashes: { proxyImages: hashes.proxyImages.map(hex), workerImages: hashes.workerImages.map(hex), models: hashes.models.map(hex) },
    };
    if (values.json) {
      process.stdout.write(JSON.stringify(out) + '\n');
      return 0;
    }
    const m = params.multipliers;
    process.stdout.write([
      `root ${out.rootAddress} on ${out.network} (${out.endpoint})`,
      `  owner              ${out.owner}`,
      `  version            ${version}`,
      `  price per token    ${params.pricePerToken} nanoTON (worker ${params.workerFeePerToken}, proxy ${params.pricePerToken - params.workerFeePerToken})`,
      `  multipliers (bp)   prompt ${m.prompt}, cached ${m.cached}, completion ${m.completion}, reasoning ${m.reasoning}`,
      `  min stakes         proxy ${nanoToTon(params.minProxyStake)} TON, client ${nanoToTon(params.minClientStake)} TON`,
      `  close delays       client ${params.clientCloseDelay} s, proxy ${params.proxyCloseDelay} s`,
      `  proxies            ${out.proxies.length === 0 ? 'none' : ''}`,
      ...out.proxies.map((p) => `    #${p.seqno} ${p.address} ${p.endpoint}`),
      `  allowed hashes     ${hashes.proxyImages.length} proxy images, ${hashes.workerImages.length} worker images, ${hashes.models.length} models`,
    ].join('\n') + '\n');
    return 0;
  },
};
