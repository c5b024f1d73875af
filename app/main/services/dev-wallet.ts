import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { mnemonicToPrivateKey } from '@ton/crypto';
import { TonClient, WalletContractV4 } from '@ton/ton';
import { CocoonError } from '../../../node-core/src/errors.ts';

/** The local development wallet the wallet panel shows in local mode: its address and live balance. */
export interface DevWalletAccess {
  name: string;
  address: string;
  balanceNano(): Promise<bigint>;
}

/**
 * Opens one of the embedded local chain's development wallets (created at genesis and kept in
 * `<chainDataDir>/wallets.json`). The address is derived the way the chain derives it (wallet v4,
 * workchain 0, non-bounceable); the balance is read through the chain's TON HTTP API, so the panel
 * shows what the chain holds, not a number of our own.
 */
export async function openDevWallet(chainDataDir: string, endpoint: string, name = 'client'): Promise<DevWalletAccess> {
  const file = join(chainDataDir, 'wallets.json');
  let stored: Array<{ name: string; mnemonic: string[] }>;
  try {
    stored = JSON.parse(await readFile(file, 'utf8')) as typeof stored;
  } catch (err) {
    throw new CocoonError('dev_wallet_missing', `cannot read the local chain's development wallets from ${file}: ${(err as Error).message}`, { hint: 'start the local network with a chain data dir first' });
  }
  const entry = Array.isArray(stored) ? stored.find((w) => w.name === name) : undefined;
  if (!entry || !Array.isArray(entry.mnemonic)) throw new CocoonError('dev_wallet_missing', `no development wallet named "${name}" in ${file}`);
  const keys = await mnemonicToPrivateKey(entry.mnemonic);
  const contract = WalletContractV4.create({ workchain: 0, publicKey: keys.publicKey });
  const client = new TonClient({ endpoint });
  return {
    name,
    address: contract.address.toString({ bounceable: false }),
    balanceNano: () => client.getBalance(contract.address),
  };
}
