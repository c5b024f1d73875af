/**
 * The proxy's handshake answers name every address in the form a reference client or worker
 * compares against (non-bounceable user-friendly), whatever form our settlement holds them in
 * (the ledger's settlement keeps `Address.toString()`, i.e. bounceable). Checked on the encoded
 * bytes too: the string on the wire is what the reference parses.
 */
import { Address } from '@ton/core';
import { describe, expect, it } from 'vitest';
import { cocoonCodec, type TlObject } from '../protocol/tl-codec.ts';
import { NO_PAYMENT, noSettlementProxy, ZERO_ADDRESS, type ProxySettlement } from '../protocol/settlement.ts';
import { ClientHandshake, WorkerHandshake } from './peer-handshake.ts';

const at = (n: number) => new Address(0, Buffer.alloc(32, n));
const OWNER = at(1);
const PROXY = at(2);
const CLIENT = at(3);
const WORKER = at(4);
const CLIENT_OWNER = at(5);
const WORKER_OWNER = at(6);
const KEY = Buffer.alloc(32, 9);

/** A settlement-mode proxy as LedgerProxySettlement spells its addresses (bounceable). */
const settlement: ProxySettlement = {
  ...noSettlementProxy({ ownerAddress: OWNER.toString(), contractAddress: PROXY.toString(), isTest: true }),
  clientContractAddress: () => CLIENT.toString(),
  workerContractAddress: () => WORKER.toString(),
  clientPayment: () => NO_PAYMENT,
};

const nonBounceable = (a: Address) => a.toString({ bounceable: false, urlSafe: true });
const flagsOf = (s: string) => Address.parseFriendly(s);

function expectWireForm(s: unknown, a: Address): void {
  expect(s).toBe(nonBounceable(a));
  const f = flagsOf(s as string);
  expect(f.isBounceable).toBe(false);
  expect(f.isTestOnly).toBe(false);
}

describe('addresses in the proxy\'s handshake answers', () => {
  const codec = cocoonCodec();

  it('client.connectedToProxy carries the proxy, its owner and the client contract non-bounceable', async () => {
    const h = new ClientHandshake(settlement, KEY);
    const answer = await h.answer({
      _: 'client.connectToProxy', min_config_version: 0,
      params: { _: 'client.params', flags: 3, client_owner_address: CLIENT_OWNER.toString(), is_test: true, min_proto_version: 1, max_proto_version: 2 },
    }) as TlObject;
    const params = answer.params as TlObject;
    expectWireForm(params.proxy_owner_address, OWNER);
    expectWireForm(params.proxy_sc_address, PROXY);
    expectWireForm(answer.client_sc_address, CLIENT);
    const bytes = codec.encode(answer);
    expect(bytes.includes(Buffer.from(nonBounceable(CLIENT)))).toBe(true);
    expect(bytes.includes(Buffer.from(CLIENT.toString()))).toBe(false);
    expect(codec.decode(bytes)).toEqual(answer);
  });

  it('worker.connectedToProxy carries the worker contract non-bounceable', async () => {
    const h = new WorkerHandshake(settlement, KEY);
    const answer = await h.answer({
      _: 'worker.connectToProxy',
      params: { _: 'worker.params', flags: 3, worker_owner_address: WORKER_OWNER.toString(), model: 'm', coefficient: 1000, is_test: true, proxy_cnt: 1, max_active_requests: 10, min_proto_version: 1, max_proto_version: 2 },
    }) as TlObject;
    expectWireForm(answer.worker_sc_address, WORKER);
    expectWireForm((answer.params as TlObject).proxy_sc_address, PROXY);
    expect(codec.encode(answer).includes(Buffer.from(nonBounceable(WORKER)))).toBe(true);
  });

  it('keeps a test-only flag, and the zero address (no contract) raw', async () => {
    const testOnly = { ...settlement, contractAddress: PROXY.toString({ testOnly: true }), clientContractAddress: () => ZERO_ADDRESS };
    const answer = await new ClientHandshake(testOnly, KEY).answer({
      _: 'client.connectToProxy', min_config_version: 0,
      params: { _: 'client.params', flags: 3, client_owner_address: CLIENT_OWNER.toString(), is_test: true, min_proto_version: 1, max_proto_version: 2 },
    }) as TlObject;
    const f = flagsOf((answer.params as TlObject).proxy_sc_address as string);
    expect(f).toMatchObject({ isBounceable: false, isTestOnly: true });
    expect(f.address.equals(PROXY)).toBe(true);
    expect(answer.client_sc_address).toBe(ZERO_ADDRESS);
  });
});
