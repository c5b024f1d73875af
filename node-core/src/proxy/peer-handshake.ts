import { timingSafeEqual } from 'node:crypto';
import { TonErrorCode, WireError, negotiateProtoVersion } from '../protocol/messages.ts';
import { isTonAddress, newNonce, secretHash, signedPaymentTl, type PaymentState, type ProxySettlement } from '../protocol/settlement.ts';
import type { TlObject } from '../protocol/tl-codec.ts';
import { announcedAddress } from '../protocol/contract-addresses.ts';
import { CONFIG_TOO_OLD, configVersionTooLow, type RootRules } from '../protocol/root-config-file.ts';

/**
 * The proxy's side of the reference handshakes, one object per connection. Each answers the
 * handshake queries in the reference's order, with its checks and error codes, and says when
 * the peer may run queries (client) or be given them (worker).
 *
 * Client: client.connectToProxy → client.connectedToProxy (auth short when the proxy knows the
 * client contract's secret hash, else long with a nonce) → client.authorizeWithProxyShort
 * (sha256(secret) must match) or …Long (the client registers on chain with the nonce) →
 * client.authorizationWithProxySuccess.
 * Worker: worker.connectToProxy → worker.connectedToProxy → worker.compareBalanceWithProxy →
 * worker.compareBalanceWithProxyResult → worker.proxyHandshakeComplete → …Completed.
 *
 * Addresses go on the wire in the non-bounceable user-friendly form whatever form the settlement
 * holds them in: a reference client or worker compares the whole address, flags included.
 */
export function proxyParamsTl(s: ProxySettlement, publicKey: Buffer, protoVersion: number): TlObject {
  return {
    _: 'proxy.params', flags: 1 | 2, proxy_public_key: publicKey, proxy_owner_address: announcedAddress(s.ownerAddress),
    proxy_sc_address: announcedAddress(s.contractAddress), is_test: s.isTest, proto_version: protoVersion,
  };
}

function paymentStatus(p: PaymentState): { signed_payment: TlObject; tokens_committed_to_db: bigint; max_tokens: bigint } {
  return { signed_payment: signedPaymentTl(p.signedPayment), tokens_committed_to_db: p.tokensCommittedToDb, max_tokens: p.maxTokens };
}

export class ClientHandshake {
  state: 'new' | 'auth' | 'ok' | 'failed' = 'new';
  owner = '';
  protoVersion = 0;
  /** The long authorization's nonce given to this connection (queries are charged only once it is registered on chain). */
  nonce = 0n;
  private secretHash: Buffer | null = null;

  constructor(private readonly settlement: ProxySettlement, private readonly publicKey: Buffer, private readonly rules?: RootRules) {}

  /** Answers a query that belongs to the handshake; null when it is not a handshake query. */
  async answer(q: TlObject): Promise<TlObject | null> {
    switch (q._) {
      case 'client.connectToProxy': return this.connect(q);
      case 'client.authorizeWithProxyShort': return this.authorizeShort(q.data as Buffer);
      case 'client.authorizeWithProxyLong': return this.authorizeLong();
      case 'client.updatePaymentStatus':
        this.requireOk();
        return { _: 'client.paymentStatus', ...paymentStatusDb(this.settlement.clientPayment(this.owner)) };
      default: return null;
    }
  }

  requireOk(): void {
    if (this.state !== 'ok') throw new WireError(TonErrorCode.notready, 'connection is not ready: finish client.connectToProxy and authorization first');
  }

  private connect(q: TlObject): TlObject {
    if (this.state !== 'new') throw new WireError(TonErrorCode.error, this.state === 'ok' ? 'already authorized' : 'connection is closing');
    const params = q.params as TlObject;
    if (!((params.flags as number) & 1)) throw new WireError(TonErrorCode.error, 'too old client');
    if (params.is_test !== this.settlement.isTest) throw new WireError(TonErrorCode.error, 'test mode mismatch');
    const owner = params.client_owner_address as string;
    if (!isTonAddress(owner)) throw new WireError(TonErrorCode.error, 'cannot parse client owner address');
    if (configVersionTooLow(this.rules, q.min_config_version as number)) throw new WireError(TonErrorCode.error, CONFIG_TOO_OLD);
    this.protoVersion = negotiateProtoVersion(params);
    this.owner = owner;
    this.nonce = newNonce();
    this.secretHash = this.settlement.clientSecretHash(owner);
    this.state = 'auth';
    const auth: TlObject = this.secretHash
      ? { _: 'client.proxyConnectionAuthShort', secret_hash: this.secretHash, nonce: this.nonce }
      : { _: 'client.proxyConnectionAuthLong', nonce: this.nonce };
    return {
      _: 'client.connectedToProxy', params: proxyParamsTl(this.settlement, this.publicKey, this.protoVersion),
      client_sc_address: announcedAddress(this.settlement.clientContractAddress(owner)), auth,
      signed_payment: signedPaymentTl(this.settlement.clientPayment(owner).signedPayment),
    };
  }

  private authorizeShort(secret: Buffer): TlObject {
    this.requireAuthState();
    const h = secretHash(secret);
    if (!this.secretHash || !timingSafeEqual(h, this.secretHash)) {
      this.state = 'failed';
      throw new WireError(TonErrorCode.error, 'sha256 mismatch');
    }
    this.settlement.clientAuthorizedShort?.(this.owner, this.nonce);
    return this.success();
  }

  private async authorizeLong(): Promise<TlObject> {
    this.requireAuthState();
    try {
      await this.settlement.awaitClientRegistration(this.owner, this.nonce);
    } catch (err) {
      this.state = 'failed';
      return { _: 'client.authorizationWithProxyFailed', error_code: TonErrorCode.error, error: (err as Error).message };
    }
    return this.success();
  }

  private requireAuthState(): void {
    if (this.state !== 'auth') throw new WireError(TonErrorCode.error, this.state === 'new' ? 'expected client.connectToProxy first' : 'already authorized');
  }

  private success(): TlObject {
    this.state = 'ok';
    return { _: 'client.authorizationWithProxySuccess', ...paymentStatus(this.settlement.clientPayment(this.owner)) };
  }
}

function paymentStatusDb(p: PaymentState): { signed_payment: TlObject; db_tokens: bigint; max_tokens: bigint } {
  return { signed_payment: signedPaymentTl(p.signedPayment), db_tokens: p.tokensCommittedToDb, max_tokens: p.maxTokens };
}

export interface WorkerParams {
  owner: string;
  model: string;
  coefficient: number;
  maxActive: number;
}

export class WorkerHandshake {
  state: 'new' | 'compare' | 'complete' | 'ok' = 'new';
  params: WorkerParams | null = null;
  protoVersion = 0;
  disabled = false;

  constructor(private readonly settlement: ProxySettlement, private readonly publicKey: Buffer, private readonly rules?: RootRules) {}

  async answer(q: TlObject): Promise<TlObject | null> {
    switch (q._) {
      case 'worker.connectToProxy': return this.connect(q.params as TlObject);
      case 'worker.compareBalanceWithProxy': {
        if (this.state !== 'compare') throw new WireError(TonErrorCode.error, 'expected worker.connectToProxy first');
        this.state = 'complete';
        const ours = this.settlement.workerPayment(this.params!.owner);
        // As the reference proxy: error_code 1 when the worker knows of more tokens than our
        // ledger (we lost or rolled back records), which asks it for the extended compare; the
        // counters are our ledger's (settlement.workerPayment), never the worker's.
        const behind = (q.max_tokens as bigint) > ours.maxTokens;
        return { _: 'worker.compareBalanceWithProxyResult', ...paymentStatus(ours), error_code: behind ? 1 : 0 };
      }
      case 'worker.extendedCompareBalanceWithProxy':
        if (this.state !== 'complete') throw new WireError(TonErrorCode.error, 'unexpected worker.extendedCompareBalanceWithProxy');
        return { _: 'worker.extendedCompareBalanceWithProxyResult', error_code: 0 };
      case 'worker.proxyHandshakeComplete':
        if (this.state !== 'complete') throw new WireError(TonErrorCode.error, 'expected worker.compareBalanceWithProxy first');
        this.state = 'ok';
        this.disabled = q.is_disabled as boolean;
        return { _: 'worker.proxyHandshakeCompleted' };
      case 'worker.updatePaymentStatus':
        if (this.state !== 'ok') throw new WireError(TonErrorCode.notready, 'connection is not ready');
        return { _: 'worker.paymentStatus', ...paymentStatusDb(this.settlement.workerPayment(this.params!.owner)) };
      default: return null;
    }
  }

  private connect(params: TlObject): TlObject {
    if (this.state !== 'new') throw new WireError(TonErrorCode.error, 'worker already connected on this connection');
    const flags = params.flags as number;
    if (!(flags & 1)) throw new WireError(TonErrorCode.error, 'too old worker');
    if (params.is_test !== this.settlement.isTest) throw new WireError(TonErrorCode.error, 'test mode mismatch');
    const owner = params.worker_owner_address as string;
    if (!isTonAddress(owner)) throw new WireError(TonErrorCode.error, 'cannot parse worker owner address');
    const maxActive = params.max_active_requests as number;
    const coefficient = params.coefficient as number;
    const model = params.model as string;
    if (!model || maxActive < 1 || maxActive > 10_000 || coefficient < 0) {
      throw new WireError(TonErrorCode.protoviolation, 'worker params out of range (model, coefficient ≥ 0, 1 ≤ max_active_requests ≤ 10000)');
    }
    if (this.rules?.modelAllowed(model) === false) throw new WireError(TonErrorCode.protoviolation, `invalid worker model '${model}' (its sha256 is not in the root's model hashes)`);
    this.protoVersion = negotiateProtoVersion(params);
    this.params = { owner, model, coefficient, maxActive };
    this.state = 'compare';
    return {
      _: 'worker.connectedToProxy', params: proxyParamsTl(this.settlement, this.publicKey, this.protoVersion),
      worker_sc_address: announcedAddress(this.settlement.workerContractAddress(owner)),
    };
  }
}
