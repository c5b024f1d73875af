/**
 * The Cocoon contract interface, in one place: opcodes, error codes, fixed values, and every cell
 * layout a node builds or parses (root configuration, contract states, message bodies, signed
 * payment messages). The layouts are those the reference node software (TelegramMessenger/cocoon,
 * runners/smartcontracts) builds and reads, so the same node code works against our contracts on
 * the embedded chain and against the live network's contracts.
 *
 * The Tolk sources import a `protocol.tolk` generated from the constants below (../compile.ts);
 * wrappers and node-core import the builders and parsers. Nothing here is retyped elsewhere.
 * The layouts themselves are pinned by golden fixtures in protocol.test.ts, built bit by bit from
 * the reference definitions.
 */
import { Address, beginCell, Builder, Cell, Dictionary, type Slice } from '@ton/core';

/** Opcodes. The first block are the reference's (Opcodes.hpp), the last block our extensions. */
export const Op = {
  excesses: 0x2565934c,
  payout: 0xc59a7cd3,
  doNotProcess: 0x9a1247c0,

  rootAddWorkerType: 0xe34b1c60,
  rootDelWorkerType: 0x8d94a79a,
  rootAddProxyType: 0x71860e80,
  rootDelProxyType: 0x3c41d0b2,
  rootRegisterProxy: 0x927c7cb5,
  rootUnregisterProxy: 0x6d49eaf2,
  rootUpdateProxy: 0x9c7924ba,
  rootChangePrice: 0xc52ed8d4,
  rootUpgradeContracts: 0xa2370f61,
  rootUpgrade: 0x11aefd51,
  rootReset: 0x563c1d96,
  rootUpgradeFull: 0x4f7c5789,

  workerProxyRequest: 0x4d725d2c,
  workerProxyPayoutRequest: 0x08e7d036,

  clientProxyRequest: 0x65448ff4,
  clientProxyTopUp: 0x5cfc6b87,
  clientProxyRegister: 0xa35cb580,
  clientProxyRefundGranted: 0xc68ebc7b,
  clientProxyRefundForce: 0xf4c354c9,

  extProxyIncreaseStake: 0x9713f187,
  extProxyPayoutRequest: 0x7610e6eb,
  ownerProxyClose: 0xb51d5a01,
  extProxyCloseRequestSigned: 0x636a4391,
  extProxyCloseCompleteRequestSigned: 0xe511abc7,

  extWorkerPayoutRequestSigned: 0xa040ad28,
  extWorkerLastPayoutRequestSigned: 0xf5f26a36,
  ownerWorkerRegister: 0x26ed7f65,

  extClientTopUp: 0xf172e6c2,
  extClientChargeSigned: 0xbb63ff93,
  extClientGrantRefundSigned: 0xefd711e1,
  ownerClientTopUpReopen: 0x29111ceb,
  ownerClientRegister: 0xc45f9f3b,
  ownerClientChangeSecretHash: 0xa9357034,
  ownerClientChangeSecretHashAndTopUp: 0x8473b408,
  ownerClientRequestRefund: 0xfafa6cc1,
  ownerClientIncreaseStake: 0x6a1f6a60,
  ownerClientWithdraw: 0xda068e78,

  ownerWalletSendMessage: 0x9c69f376,
  proxySaveState: 0x53109c0f,

  // Ours (root owner operations the reference node never builds): model allowlist, stakes and
  // delays, ownership. Chosen not to collide with any reference opcode.
  rootAddModelType: 0xc0c0a001,
  rootDelModelType: 0xc0c0a002,
  rootChangeParams: 0xc0c0a003,
  rootChangeOwner: 0xc0c0a004,
} as const;
export type OpName = keyof typeof Op;

/** Contract life cycle, the 2-bit `state` field of client, worker and proxy data. */
export const ContractState = { running: 0, closing: 1, closed: 2 } as const;

export const ContractError = {
  unauthorized: 401,
  badSignature: 402,
  staleCounter: 403,
  wrongContract: 404,
  badPayload: 405,
  notEnoughValue: 406,
  stakeTooLow: 407,
  insufficientBalance: 408,
  closed: 409,
  tooEarly: 410,
  notClosing: 411,
  badParams: 412,
  unknownOp: 413,
  unknownProxy: 414,
  payoutInFlight: 415,
  nothingToCharge: 416,
  badProxyEntry: 417,
} as const;
export type ContractErrorName = keyof typeof ContractError;

/**
 * Fixed values, nanoTON / seconds.
 * - MIN_OP_VALUE: least value attached to any operation that sends a message; what it does not
 *   spend comes back to the `send_excesses_to` address (reference nodes attach 0.7 TON).
 * - NOTIFY_VALUE: value of a contract → proxy contract request beyond the money it carries; the
 *   proxy keeps it for its gas and credits only the rest (never a number written in a body).
 * - STORAGE_RESERVE: TON a contract never gives away, also once closed, so storage rent cannot
 *   freeze it (a closed client pays ≈ 0.017 TON a year at today's basechain prices: ~30 years).
 * - MAX_CLOSE_DELAY: bound on both close delays (root refuses more; contracts clamp).
 */
export const MIN_OP_VALUE = 100_000_000n; // 0.1 TON
export const NOTIFY_VALUE = 20_000_000n; // 0.02 TON
export const STORAGE_RESERVE = 500_000_000n; // 0.5 TON
export const MAX_CLOSE_DELAY = 30 * 24 * 3600;
/** Version of the root params cell layout our root writes (the reference reads 0..3). */
export const PARAMS_STRUCT_VERSION = 3;

/** Generated Tolk source mirroring this module; imported by every contract as "protocol". */
export function protocolTolk(): string {
  const lines = ['// GENERATED from contracts/wrappers/protocol.ts by contracts/compile.ts — do not edit.', 'tolk 1.3', ''];
  const snake = (s: string) => s.replace(/([A-Z])/g, '_$1').toUpperCase();
  for (const [k, v] of Object.entries(Op)) lines.push(`const OP_${snake(k)} = 0x${v.toString(16)}`);
  for (const [k, v] of Object.entries(ContractState)) lines.push(`const STATE_${snake(k)} = ${v}`);
  for (const [k, v] of Object.entries(ContractError)) lines.push(`const ERR_${snake(k)} = ${v}`);
  lines.push(
    `const MIN_OP_VALUE = ${MIN_OP_VALUE}`, `const NOTIFY_VALUE = ${NOTIFY_VALUE}`,
    `const STORAGE_RESERVE = ${STORAGE_RESERVE}`, `const MAX_CLOSE_DELAY = ${MAX_CLOSE_DELAY}`,
    `const PARAMS_STRUCT_VERSION = ${PARAMS_STRUCT_VERSION}`,
  );
  return lines.join('\n') + '\n';
}

// ---------------------------------------------------------------------------------------------
// Root configuration: the params cell (RootContractConfig::serialize_params_cell) and root data.

export interface RootParams {
  structVersion: number;
  /** Bumped on every change of prices or codes: nodes re-create contracts when it moves. */
  paramsVersion: number;
  /** Network identity: part of every contract address, hence of every signed message's target. */
  uniqueId: number;
  isTest: boolean;
  pricePerToken: bigint;
  workerFeePerToken: bigint;
  /** Basis points (10000 = 1x); struct versions below 3 (prompt, completion) or 2 read as 10000. */
  promptMultiplier: number;
  cachedMultiplier: number;
  completionMultiplier: number;
  reasoningMultiplier: number;
  proxyDelayBeforeClose: number;
  clientDelayBeforeClose: number;
  minProxyStake: bigint;
  minClientStake: bigint;
}

export interface ContractCodesInParams {
  proxy?: Cell | null;
  worker?: Cell | null;
  client?: Cell | null;
}

/**
 * Params cell. Which codes are included follows the reference: root = all three, proxy data =
 * worker + client, client and worker data = none.
 */
export function paramsCell(p: RootParams, codes: ContractCodesInParams = {}): Cell {
  const b = beginCell()
    .storeUint(p.structVersion, 8).storeUint(p.paramsVersion, 32).storeUint(p.uniqueId, 32).storeBit(p.isTest)
    .storeCoins(p.pricePerToken).storeCoins(p.workerFeePerToken);
  if (p.structVersion >= 2) {
    if (p.structVersion >= 3) b.storeUint(p.promptMultiplier, 32);
    b.storeUint(p.cachedMultiplier, 32);
    if (p.structVersion >= 3) b.storeUint(p.completionMultiplier, 32);
    b.storeUint(p.reasoningMultiplier, 32);
  }
  b.storeUint(p.proxyDelayBeforeClose, 32).storeUint(p.clientDelayBeforeClose, 32);
  if (p.structVersion >= 1) b.storeCoins(p.minProxyStake).storeCoins(p.minClientStake);
  b.storeMaybeRef(codes.proxy ?? null).storeMaybeRef(codes.worker ?? null).storeMaybeRef(codes.client ?? null);
  return b.endCell();
}

export function parseParamsCell(c: Cell): RootParams & { codes: ContractCodesInParams } {
  const s = c.beginParse();
  const structVersion = s.loadUint(8);
  if (structVersion > 3) throw new Error(`unexpected root params struct version ${structVersion}`);
  const paramsVersion = s.loadUint(32);
  const uniqueId = s.loadUint(32);
  const isTest = s.loadBit();
  const pricePerToken = s.loadCoins();
  const workerFeePerToken = s.loadCoins();
  const promptMultiplier = structVersion >= 3 ? s.loadUint(32) : 10_000;
  const cachedMultiplier = structVersion >= 2 ? s.loadUint(32) : 10_000;
  const completionMultiplier = structVersion >= 3 ? s.loadUint(32) : 10_000;
  const reasoningMultiplier = structVersion >= 2 ? s.loadUint(32) : 10_000;
  const proxyDelayBeforeClose = s.loadUint(32);
  const clientDelayBeforeClose = s.loadUint(32);
  const minProxyStake = structVersion >= 1 ? s.loadCoins() : 1_000_000_000n;
  const minClientStake = structVersion >= 1 ? s.loadCoins() : 1_000_000_000n;
  const codes = { proxy: s.loadMaybeRef(), worker: s.loadMaybeRef(), client: s.loadMaybeRef() };
  if (s.remainingBits !== 0 || s.remainingRefs !== 0) throw new Error('extra data in root params cell');
  return {
    structVersion, paramsVersion, uniqueId, isTest, pricePerToken, workerFeePerToken, promptMultiplier, cachedMultiplier,
    completionMultiplier, reasoningMultiplier, proxyDelayBeforeClose, clientDelayBeforeClose, minProxyStake, minClientStake, codes,
  };
}

/** A registered proxy: one or two `ip:port` (workers, then clients when they differ). */
export interface ProxyEndpoint {
  seqno: number;
  addressForWorkers: string;
  addressForClients: string;
}

/** Dictionary value of a proxy entry: type bit 0, 7-bit length, that many bytes of text. */
export function storeProxyEntry(text: string) {
  const bytes = Buffer.from(text, 'utf8');
  if (bytes.length === 0 || bytes.length > 127) throw new RangeError(`proxy entry must be 1..127 bytes, got ${bytes.length}`);
  return (b: Builder) => b.storeBit(false).storeUint(bytes.length, 7).storeBuffer(bytes);
}

export function proxyEntryText(addressForWorkers: string, addressForClients?: string): string {
  for (const a of [addressForWorkers, addressForClients].filter(Boolean) as string[]) {
    if (!/^\d{1,3}(\.\d{1,3}){3}:\d{1,5}$/.test(a)) throw new RangeError(`proxy address must be ipv4:port, got "${a}"`);
  }
  return addressForClients && addressForClients !== addressForWorkers ? `${addressForWorkers} ${addressForClients}` : addressForWorkers;
}

const ProxyEntryValue = {
  serialize(v: string, b: Builder) { storeProxyEntry(v)(b); },
  parse(s: Slice): string {
    if (s.loadBit()) return ''; // only type 0 is defined; others are skipped, as the reference does
    const len = s.loadUint(7);
    return s.loadBuffer(len).toString('utf8');
  },
};
export const proxiesDict = () => Dictionary.empty(Dictionary.Keys.Uint(32), ProxyEntryValue);
/** Hash allowlists: 256-bit keys; the value is not read by nodes (ours store one true bit). */
export const hashDict = () => Dictionary.empty(Dictionary.Keys.BigUint(256), Dictionary.Values.Bool());

export interface RootData {
  owner: Address;
  proxyHashes: bigint[];
  proxies: ProxyEndpoint[];
  lastProxySeqno: number;
  workerHashes: bigint[];
  modelHashes: bigint[];
  /** Bumped on every change of the root. */
  version: number;
  params: RootParams;
  codes: ContractCodesInParams;
}

/** Root data: owner, ^[hashes, proxies, seqno, worker hashes, model hashes], ^params, version. */
export function rootDataCell(d: Omit<RootData, 'codes'> & { codes: Required<ContractCodesInParams> }): Cell {
  const set = (keys: bigint[]) => { const h = hashDict(); for (const k of keys) h.set(k, true); return h; };
  const proxies = proxiesDict();
  for (const p of d.proxies) proxies.set(p.seqno, proxyEntryText(p.addressForWorkers, p.addressForClients));
  const data = beginCell()
    .storeDict(set(d.proxyHashes)).storeDict(proxies).storeUint(d.lastProxySeqno, 32)
    .storeDict(set(d.workerHashes)).storeDict(set(d.modelHashes))
    .endCell();
  return beginCell().storeAddress(d.owner).storeRef(data).storeRef(paramsCell(d.params, d.codes)).storeUint(d.version, 32).endCell();
}

function splitEndpoints(seqno: number, text: string): ProxyEndpoint | null {
  if (!text) return null;
  const [w, c] = text.split(' ');
  return { seqno, addressForWorkers: w!, addressForClients: c ?? w! };
}

/** Parses a root's data cell the way nodes read it (RootContractConfig::load_from_state). */
export function parseRootData(c: Cell): RootData {
  const s = c.beginParse();
  const owner = s.loadAddress();
  const data = s.loadRef().beginParse();
  const { codes, ...params } = parseParamsCell(s.loadRef());
  const version = s.loadUint(32);
  if (s.remainingBits !== 0 || s.remainingRefs !== 0) throw new Error('extra data in root contract data');
  const keys = (d: Slice) => Dictionary.load(Dictionary.Keys.BigUint(256), Dictionary.Values.Bool(), d).keys().sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  const proxyHashes = keys(data);
  const proxiesD = Dictionary.load(Dictionary.Keys.Uint(32), ProxyEntryValue, data);
  const lastProxySeqno = data.loadUint(32);
  const workerHashes = keys(data);
  const modelHashes = keys(data);
  if (data.remainingBits !== 0 || data.remainingRefs !== 0) throw new Error('extra data in root data cell');
  const proxies = proxiesD.keys().sort((a, b) => a - b).map((k) => splitEndpoints(k, proxiesD.get(k)!)).filter((p): p is ProxyEndpoint => p !== null);
  return { owner, proxyHashes, proxies, lastProxySeqno, workerHashes, modelHashes, version, params, codes };
}

// ---------------------------------------------------------------------------------------------
// Contract data (init data, exactly as the reference computes addresses; and the state it reads).

/** Client init data (ClientContract::init_data_cell). */
export function clientInitData(o: { owner: Address; proxy: Address; proxyPublicKey: Buffer; params: RootParams }): Cell {
  if (o.proxyPublicKey.length !== 32) throw new RangeError('proxy public key must be 32 bytes');
  const constData = beginCell().storeAddress(o.owner).storeAddress(o.proxy).storeBuffer(o.proxyPublicKey, 32).endCell();
  return beginCell()
    .storeUint(ContractState.running, 2).storeCoins(0).storeCoins(o.params.minClientStake)
    .storeUint(0, 64).storeUint(0, 32).storeUint(0, 256)
    .storeRef(constData).storeRef(paramsCell(o.params))
    .endCell();
}

export interface ClientData {
  state: number;
  /** nanoTON held for the client (includes the stake). */
  balance: bigint;
  /** Part of the balance that stays until the contract closes. */
  stake: bigint;
  /** Cumulative adjusted tokens charged (cost = tokensUsed × pricePerToken). */
  tokensUsed: bigint;
  unlockTs: number;
  secretHash: Buffer;
  owner: Address;
  proxy: Address;
  proxyPublicKey: Buffer;
  params: RootParams;
}

/** Reads what ClientContract::on_state_update reads, plus the constant refs. */
export function parseClientData(c: Cell): ClientData {
  const s = c.beginParse();
  const state = s.loadUint(2);
  const balance = s.loadCoins();
  const stake = s.loadCoins();
  const tokensUsed = s.loadUintBig(64);
  const unlockTs = s.loadUint(32);
  const secretHash = s.loadBuffer(32);
  const k = s.loadRef().beginParse();
  const { codes: _codes, ...params } = parseParamsCell(s.loadRef());
  return { state, balance, stake, tokensUsed, unlockTs, secretHash, owner: k.loadAddress(), proxy: k.loadAddress(), proxyPublicKey: k.loadBuffer(32), params };
}

/** Worker init data (WorkerContract::init_data_cell). */
export function workerInitData(o: { owner: Address; proxy: Address; proxyPublicKey: Buffer; params: RootParams }): Cell {
  if (o.proxyPublicKey.length !== 32) throw new RangeError('proxy public key must be 32 bytes');
  return beginCell()
    .storeAddress(o.owner).storeAddress(o.proxy).storeBuffer(o.proxyPublicKey, 32)
    .storeUint(ContractState.running, 2).storeUint(0, 64)
    .storeRef(paramsCell(o.params))
    .endCell();
}

export interface WorkerData {
  owner: Address;
  proxy: Address;
  proxyPublicKey: Buffer;
  state: number;
  /** Cumulative adjusted tokens paid out (earned = tokens × workerFeePerToken). */
  tokens: bigint;
  /** Ours, appended after the reference fields: counter of a payout in flight (0 = none). */
  pendingTokens: bigint;
  params: RootParams;
}

export function parseWorkerData(c: Cell): WorkerData {
  const s = c.beginParse();
  const owner = s.loadAddress();
  const proxy = s.loadAddress();
  const proxyPublicKey = s.loadBuffer(32);
  const state = s.loadUint(2);
  const tokens = s.loadUintBig(64);
  const { codes: _codes, ...params } = parseParamsCell(s.loadRef());
  const pendingTokens = s.remainingBits >= 64 ? s.loadUintBig(64) : 0n;
  return { owner, proxy, proxyPublicKey, state, tokens, pendingTokens, params };
}

/** Proxy init data (ProxyContract::init_data_cell). */
export function proxyInitData(o: { owner: Address; publicKey: Buffer; root: Address; params: RootParams; workerCode: Cell; clientCode: Cell }): Cell {
  if (o.publicKey.length !== 32) throw new RangeError('proxy public key must be 32 bytes');
  return beginCell()
    .storeAddress(o.owner).storeBuffer(o.publicKey, 32).storeAddress(o.root)
    .storeUint(ContractState.running, 2).storeCoins(0).storeCoins(0).storeUint(0, 32)
    .storeRef(paramsCell(o.params, { worker: o.workerCode, client: o.clientCode }))
    .endCell();
}

export interface ProxyData {
  owner: Address;
  publicKey: Buffer;
  root: Address;
  state: number;
  /** The owner's earnings, withdrawable (`ready_for_withdraw` in the reference). */
  balance: bigint;
  stake: bigint;
  unlockTs: number;
  /** Ours, appended after the reference fields: client money reserved for worker payouts. */
  workerReserve: bigint;
  params: RootParams;
  codes: ContractCodesInParams;
}

export function parseProxyData(c: Cell): ProxyData {
  const s = c.beginParse();
  const owner = s.loadAddress();
  const publicKey = s.loadBuffer(32);
  const root = s.loadAddress();
  const state = s.loadUint(2);
  const balance = s.loadCoins();
  const stake = s.loadCoins();
  const unlockTs = s.loadUint(32);
  const { codes, ...params } = parseParamsCell(s.loadRef());
  const workerReserve = s.remainingBits > 0 ? s.loadCoins() : 0n;
  return { owner, publicKey, root, state, balance, stake, unlockTs, workerReserve, params, codes };
}

// ---------------------------------------------------------------------------------------------
// Signed payment messages (BaseRunner::sign_and_wrap_message).
//
// Payload (signed: Ed25519 over the payload cell's hash, with the proxy key):
//   op:uint32 query_id:uint64 tokens:uint64 target:MsgAddress     (charge, refund, payout)
//   op:uint32 query_id:uint64 target:MsgAddress                   (proxy close requests)
// Wrapped body, what is sent to the target contract:
//   op:uint32 query_id:uint64 send_excesses_to:MsgAddress signature:bits512 ^payload
// The payload names its target contract, whose address hashes the network's root params (unique
// id, test flag) and its proxy: that is the binding to one network and one contract.

export type TokenSignedOp = 'extClientChargeSigned' | 'extClientGrantRefundSigned' | 'extWorkerPayoutRequestSigned' | 'extWorkerLastPayoutRequestSigned';
export type CloseSignedOp = 'extProxyCloseRequestSigned' | 'extProxyCloseCompleteRequestSigned';

export const MAX_TOKENS = (1n << 64n) - 1n;

export function tokenPayload(op: TokenSignedOp, queryId: bigint, tokens: bigint, target: Address): Cell {
  if (tokens < 0n || tokens > MAX_TOKENS) throw new RangeError(`tokens must fit in uint64, got ${tokens}`);
  return beginCell().storeUint(Op[op], 32).storeUint(queryId, 64).storeUint(tokens, 64).storeAddress(target).endCell();
}

export function closePayload(op: CloseSignedOp, queryId: bigint, target: Address): Cell {
  return beginCell().storeUint(Op[op], 32).storeUint(queryId, 64).storeAddress(target).endCell();
}

export function wrapSigned(payload: Cell, signature: Buffer, sendExcessesTo: Address | null): Cell {
  if (signature.length !== 64) throw new RangeError('signature must be 64 bytes');
  const p = payload.beginParse();
  const op = p.loadUint(32);
  const queryId = p.loadUintBig(64);
  return beginCell().storeUint(op, 32).storeUint(queryId, 64).storeAddress(sendExcessesTo).storeBuffer(signature, 64).storeRef(payload).endCell();
}

export interface SignedTokenMessage {
  op: number;
  queryId: bigint;
  sendExcessesTo: Address | null;
  signature: Buffer;
  payload: Cell;
  tokens: bigint;
  target: Address;
}

/**
 * Parses a wrapped token message as the reference's check_signed_pay_message does (strict: no
 * extra bits, op and query id repeated in the payload). Does not verify the signature.
 */
export function parseSignedTokenMessage(body: Cell): SignedTokenMessage {
  const s = body.beginParse();
  const op = s.loadUint(32);
  const queryId = s.loadUintBig(64);
  const sendExcessesTo = s.loadMaybeAddress();
  const signature = s.loadBuffer(64);
  if (s.remainingBits !== 0 || s.remainingRefs !== 1) throw new Error('signed message: unexpected layout');
  const payload = s.loadRef();
  const p = payload.beginParse();
  if (p.loadUint(32) !== op || p.loadUintBig(64) !== queryId) throw new Error('signed message: payload op/query id differ from the envelope');
  const tokens = p.loadUintBig(64);
  const target = p.loadAddress();
  if (p.remainingBits !== 0 || p.remainingRefs !== 0) throw new Error('signed message: extra data in payload');
  return { op, queryId, sendExcessesTo, signature, payload, tokens, target };
}

/** Same signature, new excess address: how a client or worker resubmits what the proxy gave it. */
export function repackSigned(body: Cell, sendExcessesTo: Address): Cell {
  const m = parseSignedTokenMessage(body);
  return wrapSigned(m.payload, m.signature, sendExcessesTo);
}

// ---------------------------------------------------------------------------------------------
// Notifications a client or worker contract sends its proxy contract (parsed by the reference's
// ProxyContract::on_transaction).

/** client_proxy_request: op qid owner ^[state balance stake tokens_used secret_hash] payload:(Maybe ^Cell) */
export function clientProxyRequestBody(o: { queryId: bigint; owner: Address; state: number; balance: bigint; stake: bigint; tokensUsed: bigint; secretHash: Buffer; payload?: Cell | null }): Cell {
  const st = beginCell().storeUint(o.state, 2).storeCoins(o.balance).storeCoins(o.stake).storeUint(o.tokensUsed, 64).storeBuffer(o.secretHash, 32).endCell();
  return beginCell().storeUint(Op.clientProxyRequest, 32).storeUint(o.queryId, 64).storeAddress(o.owner).storeRef(st).storeMaybeRef(o.payload ?? null).endCell();
}

export function parseClientProxyRequest(body: Cell) {
  const s = body.beginParse();
  if (s.loadUint(32) !== Op.clientProxyRequest) throw new Error('not a client_proxy_request');
  const queryId = s.loadUintBig(64);
  const owner = s.loadAddress();
  const st = s.loadRef().beginParse();
  const state = { state: st.loadUint(2), balance: st.loadCoins(), stake: st.loadCoins(), tokensUsed: st.loadUintBig(64), secretHash: st.loadBuffer(32) };
  const payload = s.loadMaybeRef();
  let sub: { op: number; nonce?: bigint } | null = null;
  if (payload) {
    const p = payload.beginParse();
    const op = p.loadUint(32);
    sub = op === Op.clientProxyRegister ? { op, nonce: p.loadUintBig(64) } : { op };
  }
  return { queryId, owner, ...state, payload: sub };
}

/** worker_proxy_request: op qid owner state:uint2 tokens:uint64 payload:(Maybe ^[payout_request tokens]) */
export function workerProxyRequestBody(o: { queryId: bigint; owner: Address; state: number; tokens: bigint; payoutTokens?: bigint }): Cell {
  const payload = o.payoutTokens === undefined ? null
    : beginCell().storeUint(Op.workerProxyPayoutRequest, 32).storeUint(o.payoutTokens, 64).endCell();
  return beginCell().storeUint(Op.workerProxyRequest, 32).storeUint(o.queryId, 64).storeAddress(o.owner)
    .storeUint(o.state, 2).storeUint(o.tokens, 64).storeMaybeRef(payload).endCell();
}

export function parseWorkerProxyRequest(body: Cell) {
  const s = body.beginParse();
  if (s.loadUint(32) !== Op.workerProxyRequest) throw new Error('not a worker_proxy_request');
  const queryId = s.loadUintBig(64);
  const owner = s.loadAddress();
  const state = s.loadUint(2);
  const tokens = s.loadUintBig(64);
  const payload = s.loadMaybeRef();
  let payoutTokens: bigint | undefined;
  if (payload) {
    const p = payload.beginParse();
    if (p.loadUint(32) === Op.workerProxyPayoutRequest) payoutTokens = p.loadUintBig(64);
  }
  return { queryId, owner, state, tokens, payoutTokens };
}

/** proxy_save_state, sent by the proxy's own wallet to its contract to commit its ledger. */
export function proxySaveStateBody(queryId: bigint, seqno: number, uniqueHash: Buffer): Cell {
  return beginCell().storeUint(Op.doNotProcess, 32).storeUint(queryId, 64).storeUint(Op.proxySaveState, 32)
    .storeInt(seqno, 32).storeBuffer(uniqueHash, 32).endCell();
}

// ---------------------------------------------------------------------------------------------
// Operation bodies. Layouts built by the reference node (ClientContract, WorkerContract,
// ProxyContract create_*_message) carry its exact bits; the root's owner operations are ours
// except where the reference names only the opcode.

const head = (op: OpName, queryId: bigint) => beginCell().storeUint(Op[op], 32).storeUint(queryId, 64);

export const Body = {
  clientTopUp: (queryId: bigint, amount: bigint, excessesTo: Address) => head('extClientTopUp', queryId).storeCoins(amount).storeAddress(excessesTo).endCell(),
  clientTopUpReopen: (queryId: bigint, amount: bigint, excessesTo: Address) => head('ownerClientTopUpReopen', queryId).storeCoins(amount).storeAddress(excessesTo).endCell(),
  clientRegister: (queryId: bigint, nonce: bigint, excessesTo: Address) => head('ownerClientRegister', queryId).storeUint(nonce, 64).storeAddress(excessesTo).endCell(),
  clientChangeSecretHash: (queryId: bigint, secretHash: Buffer, excessesTo: Address) => head('ownerClientChangeSecretHash', queryId).storeBuffer(secretHash, 32).storeAddress(excessesTo).endCell(),
  clientChangeSecretHashAndTopUp: (queryId: bigint, amount: bigint, secretHash: Buffer, excessesTo: Address) =>
    head('ownerClientChangeSecretHashAndTopUp', queryId).storeCoins(amount).storeBuffer(secretHash, 32).storeAddress(excessesTo).endCell(),
  /** Reference layout plus the new stake (required by our contract; see contracts/README.md). */
  clientIncreaseStake: (queryId: bigint, excessesTo: Address, newStake: bigint) => head('ownerClientIncreaseStake', queryId).storeAddress(excessesTo).storeCoins(newStake).endCell(),
  /** Without `amount`: the whole balance above the stake (reference layout); with it: that much. */
  clientWithdraw: (queryId: bigint, excessesTo: Address, amount?: bigint) => {
    const b = head('ownerClientWithdraw', queryId).storeAddress(excessesTo);
    if (amount !== undefined) b.storeCoins(amount);
    return b.endCell();
  },
  clientRequestRefund: (queryId: bigint, excessesTo: Address) => head('ownerClientRequestRefund', queryId).storeAddress(excessesTo).endCell(),
  workerRegister: (queryId: bigint, excessesTo: Address) => head('ownerWorkerRegister', queryId).storeAddress(excessesTo).endCell(),
  proxyIncreaseStake: (queryId: bigint, amount: bigint, excessesTo: Address) => head('extProxyIncreaseStake', queryId).storeCoins(amount).storeAddress(excessesTo).endCell(),
  /** ProxyContract::create_withdraw_message: pays the proxy's earned balance to its owner. */
  proxyWithdraw: (queryId: bigint, excessesTo: Address) => head('extProxyPayoutRequest', queryId).storeAddress(excessesTo).endCell(),
  /** ProxyContract::create_start_close_message (no query id in the reference layout). */
  proxyClose: (excessesTo: Address) => beginCell().storeUint(Op.ownerProxyClose, 32).storeAddress(excessesTo).endCell(),

  rootHash: (op: 'rootAddProxyType' | 'rootDelProxyType' | 'rootAddWorkerType' | 'rootDelWorkerType' | 'rootAddModelType' | 'rootDelModelType', hash: bigint, queryId = 0n) =>
    head(op, queryId).storeUint(hash, 256).endCell(),
  rootRegisterProxy: (entry: string, queryId = 0n) => head('rootRegisterProxy', queryId).store(storeProxyEntry(entry)).endCell(),
  rootUpdateProxy: (seqno: number, entry: string, queryId = 0n) => head('rootUpdateProxy', queryId).storeUint(seqno, 32).store(storeProxyEntry(entry)).endCell(),
  rootUnregisterProxy: (seqno: number, queryId = 0n) => head('rootUnregisterProxy', queryId).storeUint(seqno, 32).endCell(),
  rootChangePrice: (p: Pick<RootParams, 'pricePerToken' | 'workerFeePerToken' | 'promptMultiplier' | 'cachedMultiplier' | 'completionMultiplier' | 'reasoningMultiplier'>, queryId = 0n) =>
    head('rootChangePrice', queryId).storeCoins(p.pricePerToken).storeCoins(p.workerFeePerToken)
      .storeUint(p.promptMultiplier, 32).storeUint(p.cachedMultiplier, 32).storeUint(p.completionMultiplier, 32).storeUint(p.reasoningMultiplier, 32).endCell(),
  rootChangeParams: (p: Pick<RootParams, 'proxyDelayBeforeClose' | 'clientDelayBeforeClose' | 'minProxyStake' | 'minClientStake'>, queryId = 0n) =>
    head('rootChangeParams', queryId).storeUint(p.proxyDelayBeforeClose, 32).storeUint(p.clientDelayBeforeClose, 32)
      .storeCoins(p.minProxyStake).storeCoins(p.minClientStake).endCell(),
  rootUpgradeContracts: (codes: { proxy: Cell; worker: Cell; client: Cell }, queryId = 0n) =>
    head('rootUpgradeContracts', queryId).storeRef(codes.proxy).storeRef(codes.worker).storeRef(codes.client).endCell(),
  rootChangeOwner: (owner: Address, queryId = 0n) => head('rootChangeOwner', queryId).storeAddress(owner).endCell(),
};
