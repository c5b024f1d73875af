import { Address } from '@ton/core';
import { createPrivateKey } from 'node:crypto';
import type { RaTlsIdentity } from '../../attestation/index.ts';
import { createLogger } from '../../log.ts';
import { DEFAULT_POW_DIFFICULTY } from '../../protocol/pow.ts';
import { startProxy } from '../../proxy/proxy-runner.ts';
import { intFlag, parseFlags, type CliCommand } from '../command.ts';
import { attestationFlags, roleAttestation } from '../role-flags.ts';
import { untilSignal } from './up.ts';
import { SETTLEMENT_USAGE, settlementFlags, settlementWanted } from '../../payments/role-settlement.ts';
import { CocoonError } from '../../errors.ts';
import { rootDerivedProxy } from '../../protocol/contract-addresses.ts';
import { liveRootRules, readReferenceRootConfig, rootMultipliers, rootRulesOf, type RootSnapshot } from '../../protocol/root-config-file.ts';
import { readRootData } from '../../chain/contract-state.ts';
import type { ChainConfig } from '../../chain/config.ts';

const usage = `cocoon proxy [--port N] [--worker-port N] [--pow-difficulty BITS (default 20, as the reference)] [--quote tdx|fake] [--policy tdx|fake|any] [--allow-image WORKER_IMAGE_HASH]... [--accept-tcb STATUS]... [--pccs URL] ${SETTLEMENT_USAGE} [--proxy-key-file FILE] [--root-config FILE --root-address ADDR --owner ADDR [--check-models] (TON disabled, development)] [--json]`;

export const command: CliCommand = {
  summary: 'run a proxy: accepts attested workers and clients, routes and relays queries',
  usage,
  async run(args) {
    const { values } = parseFlags(args, { ...attestationFlags, ...settlementFlags, port: { type: 'string' }, 'worker-port': { type: 'string' }, 'pow-difficulty': { type: 'string' }, 'root-config': { type: 'string' }, 'root-address': { type: 'string' }, owner: { type: 'string' }, 'check-models': { type: 'boolean' }, json: { type: 'boolean' } }, usage, false);
    const log = createLogger('proxy');
    const att = await roleAttestation('proxy', values, log);
    if (values['root-config'] !== undefined && values.settle) {
      throw new CocoonError('bad_flag', '--root-config runs the proxy with TON disabled; it cannot be combined with --settle (drop one of them)');
    }
    // Settling: the ledger, signed charges and payouts, admission and the on-chain long authorization (payments/role-settlement.ts).
    const chain = values['root-config'] !== undefined ? null : settlementWanted('proxy', values);
    const settlement = chain ? await (await import('../../payments/role-settlement.ts')).proxyRoleSettlement(chain, values, log) : null;
    const root = tonDisabledRoot(values, att.network, att.identity, log);
    // Settling: the root contract read from the chain feeds the same rules (config version, model allowlist), refreshed.
    const chainRules = chain?.rootAddress ? await liveRootRules(rootSnapshotReader(chain, Address.parse(chain.rootAddress)), {
      checkModels: values['check-models'] === true, refreshMs: 60_000,
      onError: (err) => log.warn({ err: (err as Error).message }, 'could not re-read the root contract; keeping the rules of the last read'),
      onChange: (r) => log.info({ version: r.version, models: r.modelHashes.length }, 'root contract changed: new config version and model allowlist'),
    }) : null;
    const proxy = await startProxy({
      ...(settlement && { settlement }),
      ...(chainRules && { rootRules: chainRules }),
      ...(root && { settlement: root.settlement, rootRules: root.rules, multipliers: rootMultipliers(root.config) }),
      identity: att.identity, port: intFlag('port', values.port, 0, 0, 65535), workerPort: intFlag('worker-port', values['worker-port'], 0, 0, 65535), log,
      powDifficulty: intFlag('pow-difficulty', values['pow-difficulty'], DEFAULT_POW_DIFFICULTY, 0, 64),
      workerVerifier: att.verifierFor('worker'),
      clientVerifier: att.verifierFor('client'),
    });
    const info = {
      clientPort: proxy.endpoint.port, workerPort: proxy.workerEndpoint.port, stats: proxy.statsUrl, pid: process.pid,
      ...(settlement && { settlement: { proxyContract: settlement.contractAddress, ledger: settlement.ledger.path } }),
    };
    process.stdout.write(values.json ? JSON.stringify(info) + '\n' : `proxy: clients → 127.0.0.1:${info.clientPort}, workers → 127.0.0.1:${info.workerPort}, stats ${info.stats}\n`);
    await untilSignal(async () => { chainRules?.stop(); await proxy.stop(); await settlement?.close({ flush: true }); att.stop(); });
    return 0;
  },
};

/**
 * `--root-config FILE`: run without TON, as the reference's runners do with `--disable-ton FILE`
 * (the same JSON file): no payments, but the contract addresses, the model allowlist and the
 * configuration version come from that root configuration, so reference workers and clients
 * accept this proxy; the price multipliers for answers that end early are the file's too.
 * Development only: refused on testnet and mainnet.
 */
function tonDisabledRoot(values: { 'root-config'?: string | undefined; 'root-address'?: string | undefined; owner?: string | undefined; 'check-models'?: boolean | undefined }, network: string, identity: RaTlsIdentity, log: ReturnType<typeof createLogger>) {
  const file = values['root-config'];
  if (!file) {
    if (values['root-address'] || values.owner) throw new CocoonError('bad_flag', '--root-address and --owner go with --root-config FILE');
    return null;
  }
  if (network !== 'local') throw new CocoonError('policy_refused', `--root-config (TON disabled, no payments) is refused on ${network}`, { hint: 'on testnet/mainnet the proxy reads its root contract from the chain' });
  const address = (flag: 'root-address' | 'owner') => {
    const v = values[flag];
    if (!v) throw new CocoonError('bad_flag', `--root-config needs --${flag} ADDR (the ${flag === 'owner' ? "proxy operator's wallet" : 'root contract'}; contract addresses are derived from it)`);
    try {
      return Address.parse(v);
    } catch {
      throw new CocoonError('bad_flag', `--${flag} must be a TON address, got "${v}"`);
    }
  };
  const config = readReferenceRootConfig(file);
  const settlement = rootDerivedProxy({ root: config, rootAddress: address('root-address'), ownerAddress: address('owner'), publicKey: identity.publicKey, secretKey: ed25519SecretKey(identity), isTestnet: false });
  log.warn({ rootConfig: file, version: config.version, proxyContract: settlement.contractAddress }, 'DEVELOPMENT: TON disabled — root configuration from a file, no payments');
  return { config, settlement, rules: rootRulesOf(config, { checkModels: values['check-models'] === true }) };
}

/** The proxy signs with the key its certificate carries: seed (last 32 bytes of the PKCS#8 DER) ‖ public key. */
function ed25519SecretKey(identity: RaTlsIdentity): Buffer {
  const der = createPrivateKey(identity.keyPem).export({ format: 'der', type: 'pkcs8' });
  return Buffer.concat([der.subarray(der.length - 32), identity.publicKey]);
}

/** The root contract's version, model allowlist and network flag, read from the chain. */
function rootSnapshotReader(config: ChainConfig, root: Address): () => Promise<RootSnapshot> {
  return async () => {
    const d = await readRootData(config, root);
    return { version: d.version, isTest: d.params.isTest, modelHashes: d.modelHashes.map((h) => h.toString(16).padStart(64, '0')) };
  };
}
