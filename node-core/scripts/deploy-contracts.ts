/**
 * Deploys Cocoon contracts from a wallet whose mnemonic is in the environment.
 *
 *   COCOON_DEPLOY_MNEMONIC="word1 … word24" COCOON_NETWORK=testnet \
 *     npx tsx node-core/scripts/deploy-contracts.ts root [--price 20 --worker-fee 19]
 *   … deploy.ts proxy --root ADDR --public-key HEX64 [--stake TON]
 *   … deploy.ts register-proxy --root ADDR --proxy ADDR --endpoint host:port
 *
 * Network selection is node-core's (COCOON_NETWORK, COCOON_TON_ENDPOINT, COCOON_TON_API_KEY); with
 * none, the running local chain. Prints one JSON line with the result.
 */
import { parseArgs } from 'node:util';
import { Address, toNano } from '@ton/core';
import { Chain } from '../src/chain/chain.ts';
import { resolveChainConfig } from '../src/chain/config.ts';
import { CocoonError } from '../src/errors.ts';
import { DEFAULT_ROOT_PARAMS } from '../../contracts/wrappers/Root.ts';
import { deployProxy, deployRoot, registerProxy } from '../src/chain/deploy.ts';

const USAGE = 'deploy.ts root [--price N] [--worker-fee N] | proxy --root ADDR --public-key HEX [--stake TON] | register-proxy --root ADDR --endpoint ip:port[,ip:port for clients]';

function address(v: string | undefined, flag: string): Address {
  if (!v) throw new CocoonError('bad_flag', `--${flag} is required`, { hint: USAGE });
  try {
    return Address.parse(v);
  } catch {
    throw new CocoonError('bad_flag', `--${flag} is not a TON address: "${v}"`);
  }
}

function uint(v: string | undefined, flag: string, fallback: number): number {
  if (v === undefined) return fallback;
  if (!/^\d+$/.test(v)) throw new CocoonError('bad_flag', `--${flag} must be a non-negative integer, got "${v}"`);
  return Number(v);
}

async function main(): Promise<void> {
  const { values, positionals } = parseArgs({
    args: process.argv.slice(2), allowPositionals: true, strict: true,
    options: {
      root: { type: 'string' }, proxy: { type: 'string' }, endpoint: { type: 'string' },
      'public-key': { type: 'string' }, stake: { type: 'string' },
      price: { type: 'string' }, 'worker-fee': { type: 'string' },
    },
  });
  const mnemonic = (process.env.COCOON_DEPLOY_MNEMONIC ?? '').trim().split(/\s+/).filter(Boolean);
  if (mnemonic.length === 0) {
    throw new CocoonError('no_mnemonic', 'COCOON_DEPLOY_MNEMONIC is not set', { hint: 'export the deploying wallet\'s 24 words, space-separated' });
  }
  const chain = new Chain(resolveChainConfig());
  const wallet = await chain.wallet(mnemonic);
  let result: Record<string, unknown>;
  switch (positionals[0]) {
    case 'root': {
      const params = {
        pricePerToken: BigInt(uint(values.price, 'price', Number(DEFAULT_ROOT_PARAMS.pricePerToken))),
        workerFeePerToken: BigInt(uint(values['worker-fee'], 'worker-fee', Number(DEFAULT_ROOT_PARAMS.workerFeePerToken))),
      };
      const r = await deployRoot(chain, wallet, { params });
      result = { root: r.address.toString(), owner: wallet.address.toString(), codeHash: r.codeHash, uniqueId: r.params.uniqueId };
      break;
    }
    case 'proxy': {
      const hex = values['public-key'] ?? '';
      if (!/^[0-9a-fA-F]{64}$/.test(hex)) throw new CocoonError('bad_flag', '--public-key must be 64 hex characters (Ed25519)');
      let stake: bigint | undefined;
      if (values.stake !== undefined) {
        try {
          stake = toNano(values.stake);
        } catch {
          throw new CocoonError('bad_flag', `--stake must be an amount in TON, got "${values.stake}"`);
        }
      }
      const r = await deployProxy(chain, wallet, { root: address(values.root, 'root'), publicKey: Buffer.from(hex, 'hex'), stake });
      result = { proxy: r.address.toString(), owner: wallet.address.toString(), stake: r.stake.toString() };
      break;
    }
    case 'register-proxy': {
      if (!values.endpoint) throw new CocoonError('bad_flag', '--endpoint is required', { hint: USAGE });
      const [forWorkers, forClients] = values.endpoint.split(',');
      const r = await registerProxy(chain, wallet, { root: address(values.root, 'root'), addressForWorkers: forWorkers!, addressForClients: forClients });
      result = { seqno: r.seqno, addressForWorkers: r.addressForWorkers, addressForClients: r.addressForClients };
      break;
    }
    default:
      throw new CocoonError('bad_flag', `unknown deploy target "${positionals[0] ?? ''}"`, { hint: USAGE });
  }
  process.stdout.write(JSON.stringify({ network: chain.config.network, ...result }) + '\n');
}

main().catch((err: unknown) => {
  const e = err as CocoonError;
  process.stderr.write(`deploy: ${e.message}\n${e.hint ? `  hint: ${e.hint}\n` : ''}`);
  process.exit(1);
});
