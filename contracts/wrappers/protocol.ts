/**
 * Opcodes, signed-payload tags, error codes and fixed fees of the Cocoon contracts: the one place
 * they are defined. The Tolk sources import a `protocol.tolk` generated from this module at compile
 * time (see ../compile.ts), so the contracts, the wrappers and the node core cannot drift apart.
 */

export const Op = {
  // root (owner only)
  rootAddProxy: 0x52a1_0001,
  rootRemoveProxy: 0x52a1_0002,
  rootSetParams: 0x52a1_0003,
  rootAddHash: 0x52a1_0004,
  rootRemoveHash: 0x52a1_0005,
  rootChangeOwner: 0x52a1_0006,
  // proxy
  proxyAddStake: 0x50a1_0001,
  proxyClientPayment: 0x50a1_0002,
  proxyPayWorker: 0x50a1_0003,
  proxyWithdrawEarnings: 0x50a1_0004,
  proxyRequestClose: 0x50a1_0005,
  proxyFinishClose: 0x50a1_0006,
  // client
  clientTopUp: 0xc1a1_0001,
  clientIncreaseStake: 0xc1a1_0002,
  clientWithdraw: 0xc1a1_0003,
  clientCharge: 0xc1a1_0004,
  clientCooperativeClose: 0xc1a1_0005,
  clientRequestClose: 0xc1a1_0006,
  clientFinishClose: 0xc1a1_0007,
  // worker
  workerPayout: 0x57a1_0001,
} as const;

/** First field of every proxy-signed payload: what the signature authorises. */
export const SignedTag = {
  charge: 0x5ca1_0001,
  closeClient: 0x5ca1_0002,
  payout: 0x5ca1_0003,
} as const;

/** Which allowlist of the root an image/model hash belongs to. */
export const HashKind = { proxyImage: 1, workerImage: 2, model: 3 } as const;
export type HashKindName = keyof typeof HashKind;

export const ContractError = {
  unauthorized: 401,
  badSignature: 402,
  staleCounter: 403,
  wrongContract: 404,
  badTag: 405,
  notEnoughValue: 406,
  stakeTooLow: 407,
  insufficientBalance: 408,
  closed: 409,
  tooEarly: 410,
  notClosing: 411,
  badParams: 412,
  unknownOp: 413,
  unknownProxy: 414,
  inactive: 415,
  workersUnsettled: 416,
} as const;
export type ContractErrorName = keyof typeof ContractError;

/**
 * Fixed fees, nanoTON. A deposit without an outgoing message pays its compute fee from the
 * contract balance, so the credited amount is the attached value minus DEPOSIT_FEE (the slack
 * covers storage and is returned with everything else on close). Operations that send a message
 * forward the remaining inbound value (mode 64) and require at least MIN_FORWARD_VALUE attached.
 */
export const DEPOSIT_FEE = 3_000_000n; // 0.003 TON
export const MIN_FORWARD_VALUE = 20_000_000n; // 0.02 TON

/** Generated Tolk source mirroring this module; imported by every contract as "protocol". */
export function protocolTolk(): string {
  const lines = ['// GENERATED from contracts/wrappers/protocol.ts by contracts/compile.ts — do not edit.', 'tolk 1.3', ''];
  const snake = (s: string) => s.replace(/([A-Z])/g, '_$1').toUpperCase();
  for (const [k, v] of Object.entries(Op)) lines.push(`const OP_${snake(k)} = 0x${v.toString(16)}`);
  for (const [k, v] of Object.entries(SignedTag)) lines.push(`const TAG_${snake(k)} = 0x${v.toString(16)}`);
  for (const [k, v] of Object.entries(HashKind)) lines.push(`const HASH_KIND_${snake(k)} = ${v}`);
  for (const [k, v] of Object.entries(ContractError)) lines.push(`const ERR_${snake(k)} = ${v}`);
  lines.push(`const DEPOSIT_FEE = ${DEPOSIT_FEE}`, `const MIN_FORWARD_VALUE = ${MIN_FORWARD_VALUE}`);
  return lines.join('\n') + '\n';
}
