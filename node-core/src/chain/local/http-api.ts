/**
 * The subset of the TON HTTP API v2 that @ton/ton's TonClient (and most tools) use, served from
 * the local ledger on 127.0.0.1. JSON-RPC at POST /jsonRPC (also /api/v2/jsonRPC) and the same
 * methods as GET /<method>?... for curl. Every parameter is validated; errors come back as
 * `{ ok: false, error, code }` like the public API.
 */
import { createServer, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Address, beginCell, Cell, external, storeMessage, type Message, type Transaction, type TupleItem } from '@ton/core';
import { z } from 'zod';
import type { Logger } from 'pino';
import type { LocalLedger } from './ledger.ts';
import { parseMessageBoc } from './ledger.ts';
import { decodePath, hardenServer, HttpError, parseJson, readBody, requestTarget, safeHandler } from '../../http/safe-http.ts';

const MAX_BODY_BYTES = 2 * 1024 * 1024;
const BASECHAIN_SHARD = '-9223372036854775808';

class ApiError extends Error {
  constructor(readonly code: number, message: string) {
    super(message);
  }
}

const addressParam = z.string().min(1).transform((s, ctx) => {
  try {
    return Address.parse(s);
  } catch {
    ctx.addIssue({ code: 'custom', message: `not a TON address: "${s}"` });
    return z.NEVER;
  }
});
const bocParam = z.string().min(1).transform((s, ctx) => {
  try {
    const buf = Buffer.from(s, 'base64');
    Cell.fromBoc(buf);
    return buf;
  } catch {
    ctx.addIssue({ code: 'custom', message: 'not a base64 BOC' });
    return z.NEVER;
  }
});
const intString = z.union([z.string().regex(/^\d+$/), z.number().int().nonnegative()]).transform((v) => BigInt(v));

const schemas = {
  getAddressInformation: z.object({ address: addressParam }),
  getAddressBalance: z.object({ address: addressParam }),
  getAddressState: z.object({ address: addressParam }),
  getWalletInformation: z.object({ address: addressParam }),
  runGetMethod: z.object({
    address: addressParam,
    method: z.union([z.string().min(1).max(128), z.number().int()]),
    stack: z.array(z.tuple([z.string(), z.unknown()])).max(64).default([]),
  }),
  sendBoc: z.object({ boc: bocParam }),
  sendBocReturnHash: z.object({ boc: bocParam }),
  getTransactions: z.object({
    address: addressParam,
    limit: z.coerce.number().int().min(1).max(100).default(10),
    lt: intString.optional(),
    hash: z.string().optional(),
    to_lt: intString.optional(),
    archival: z.unknown().optional(),
  }),
  estimateFee: z.object({
    address: addressParam,
    body: bocParam,
    init_code: z.string().optional().default(''),
    init_data: z.string().optional().default(''),
    ignore_chksig: z.union([z.boolean(), z.enum(['true', 'false']).transform((v) => v === 'true')]).optional().default(true),
  }),
  getMasterchainInfo: z.object({}).passthrough(),
  tryLocateResultTx: z.object({ source: addressParam, destination: addressParam, created_lt: intString }),
  tryLocateSourceTx: z.object({ source: addressParam, destination: addressParam, created_lt: intString }),
} as const;
type MethodName = keyof typeof schemas;

function parseStackArg([type, value]: [string, unknown]): TupleItem {
  switch (type) {
    case 'num': case 'number': case 'int': {
      const s = String(value);
      if (!/^-?(0x[0-9a-fA-F]+|\d+)$/.test(s)) throw new ApiError(400, `bad number on stack: ${s}`);
      return { type: 'int', value: s.startsWith('-') ? -BigInt(s.slice(1)) : BigInt(s) };
    }
    case 'tvm.Cell': case 'cell':
      return { type: 'cell', cell: Cell.fromBase64(String(value)) };
    case 'tvm.Slice': case 'slice':
      return { type: 'slice', cell: Cell.fromBase64(String(value)) };
    case 'tvm.Builder': case 'builder':
      return { type: 'builder', cell: Cell.fromBase64(String(value)) };
    default:
      throw new ApiError(400, `unsupported stack entry type "${type}" (use num, tvm.Cell, tvm.Slice)`);
  }
}

function stackEntry(item: TupleItem): unknown {
  switch (item.type) {
    case 'int': return { '@type': 'tvm.numberDecimal', number: item.value.toString() };
    case 'cell': return { '@type': 'tvm.cell', bytes: item.cell.toBoc().toString('base64') };
    case 'slice': return { '@type': 'tvm.slice', bytes: item.cell.toBoc().toString('base64') };
    case 'builder': return { '@type': 'tvm.cell', bytes: item.cell.toBoc().toString('base64') };
    case 'tuple': return { '@type': 'tvm.tuple', elements: item.items.map(stackEntry) };
    case 'null': return { '@type': 'tvm.list', elements: [] };
    default: throw new ApiError(500, `cannot serialise stack item of type ${item.type}`);
  }
}

function stackItem(item: TupleItem): unknown[] {
  switch (item.type) {
    case 'int': return ['num', (item.value < 0n ? '-0x' + (-item.value).toString(16) : '0x' + item.value.toString(16))];
    case 'null': return ['null', null];
    case 'cell': return ['cell', { bytes: item.cell.toBoc().toString('base64') }];
    case 'slice': return ['slice', { bytes: item.cell.toBoc().toString('base64') }];
    case 'builder': return ['builder', { bytes: item.cell.toBoc().toString('base64') }];
    case 'tuple': return ['tuple', { '@type': 'tvm.tuple', elements: item.items.map(stackEntry) }];
    default: throw new ApiError(500, `cannot serialise stack item of type ${item.type}`);
  }
}

function messageJson(m: Message | undefined | null) {
  if (!m) return undefined;
  const info = m.info;
  const addr = (a: unknown) => (a instanceof Address ? a.toString() : '');
  return {
    '@type': 'raw.message',
    source: info.type === 'internal' ? info.src.toString() : addr(info.type === 'external-out' ? info.src : null),
    destination: info.type === 'external-out' ? '' : info.dest.toString(),
    value: info.type === 'internal' ? info.value.coins.toString() : '0',
    fwd_fee: info.type === 'internal' ? info.forwardFee.toString() : '0',
    ihr_fee: info.type === 'internal' ? info.ihrFee.toString() : '0',
    created_lt: info.type === 'external-in' ? '0' : info.createdLt.toString(),
    body_hash: m.body.hash().toString('base64'),
    msg_data: {
      '@type': 'msg.dataRaw',
      body: m.body.toBoc().toString('base64'),
      init_state: m.init ? beginCell().storeRef(m.init.code ?? Cell.EMPTY).storeRef(m.init.data ?? Cell.EMPTY).endCell().toBoc().toString('base64') : '',
    },
  };
}

function transactionJson(tx: Transaction, address: Address) {
  const d = tx.description;
  const storage = d.type === 'generic' ? d.storagePhase?.storageFeesCollected ?? 0n : 0n;
  return {
    '@type': 'raw.transaction',
    address: { '@type': 'accountAddress', account_address: address.toString() },
    utime: tx.now,
    data: tx.raw.toBoc().toString('base64'),
    transaction_id: { '@type': 'internal.transactionId', lt: tx.lt.toString(), hash: tx.hash().toString('base64') },
    fee: tx.totalFees.coins.toString(),
    storage_fee: storage.toString(),
    other_fee: (tx.totalFees.coins - storage).toString(),
    in_msg: messageJson(tx.inMessage),
    out_msgs: [...tx.outMessages.values()].map((m) => messageJson(m)),
  };
}

export function createLocalApi(ledger: LocalLedger, log?: Logger) {
  const blockId = (workchain: number, seqno: number) => ({
    '@type': 'ton.blockIdExt', workchain, shard: BASECHAIN_SHARD, seqno,
    root_hash: ledger.blockHash(seqno), file_hash: ledger.blockHash(seqno),
  });

  const handlers: { [M in MethodName]: (p: z.infer<(typeof schemas)[M]>) => Promise<unknown> } = {
    async getAddressInformation({ address }) {
      const a = await ledger.account(address);
      return {
        '@type': 'raw.fullAccountState',
        balance: a.balance.toString(),
        extra_currencies: [],
        code: a.code ? a.code.toBoc().toString('base64') : '',
        data: a.data ? a.data.toBoc().toString('base64') : '',
        last_transaction_id: {
          '@type': 'internal.transactionId',
          lt: a.lastTransactionLt.toString(),
          hash: Buffer.from(a.lastTransactionHash.toString(16).padStart(64, '0'), 'hex').toString('base64'),
        },
        block_id: blockId(0, ledger.seqno),
        frozen_hash: '',
        sync_utime: Math.floor(Date.now() / 1000),
        state: a.state,
      };
    },
    async getAddressBalance({ address }) {
      return (await ledger.account(address)).balance.toString();
    },
    async getAddressState({ address }) {
      return (await ledger.account(address)).state;
    },
    async getWalletInformation({ address }) {
      const a = await ledger.account(address);
      let seqno: number | undefined;
      if (a.state === 'active') {
        const r = await ledger.runGetMethod(address, 'seqno', []);
        if (r.exitCode === 0 && r.stack[0]?.type === 'int') seqno = Number(r.stack[0].value);
      }
      return {
        wallet: seqno !== undefined, balance: a.balance.toString(), account_state: a.state,
        ...(seqno !== undefined ? { seqno } : {}),
        last_transaction_id: { '@type': 'internal.transactionId', lt: a.lastTransactionLt.toString(), hash: '' },
      };
    },
    async runGetMethod({ address, method, stack }) {
      if (typeof method === 'number') throw new ApiError(400, 'method must be a name on the local chain');
      const r = await ledger.runGetMethod(address, method, stack.map(parseStackArg));
      return {
        '@type': 'smc.runResult', gas_used: Number(r.gasUsed), exit_code: r.exitCode,
        stack: r.stack.map(stackItem), block_id: blockId(0, ledger.seqno),
      };
    },
    async sendBoc({ boc }) {
      await deliver(boc);
      return { '@type': 'ok' };
    },
    async sendBocReturnHash({ boc }) {
      const cell = await deliver(boc);
      return { '@type': 'raw.extMessageInfo', hash: cell.hash().toString('base64') };
    },
    async getTransactions({ address, limit, lt, hash, to_lt }) {
      const txs = ledger.transactions(address, { limit, fromLt: lt, toLt: to_lt });
      if (lt !== undefined && hash) {
        const first = txs[0];
        const want = /^[0-9a-fA-F]{64}$/.test(hash) ? hash.toLowerCase() : Buffer.from(hash, 'base64').toString('hex');
        if (!first || first.lt !== lt || first.hash().toString('hex') !== want) {
          throw new ApiError(404, `transaction ${lt}:${hash} not found for ${address.toString()}`);
        }
      }
      return txs.map((tx) => transactionJson(tx, address));
    },
    async estimateFee({ address, body, init_code, init_data, ignore_chksig }) {
      const init = init_code && init_data ? { code: Cell.fromBase64(init_code), data: Cell.fromBase64(init_data) } : null;
      const msg = beginCell().store(storeMessage(external({ to: address, init, body: Cell.fromBoc(body)[0]! }))).endCell();
      let txs: Transaction[];
      try {
        txs = await ledger.dryRun(msg, { ignoreChksig: ignore_chksig });
      } catch (err) {
        throw new ApiError(500, `cannot estimate: the contract did not accept the message (${(err as Error).message})`);
      }
      const first = txs[0];
      if (!first || first.description.type !== 'generic') throw new ApiError(500, 'cannot estimate: no transaction');
      const d = first.description;
      const gas = d.computePhase.type === 'vm' ? d.computePhase.gasFees : 0n;
      const storage = d.storagePhase?.storageFeesCollected ?? 0n;
      const fwd = d.actionPhase?.totalFwdFees ?? 0n;
      const actionFees = d.actionPhase?.totalActionFees ?? 0n;
      const inFwd = first.totalFees.coins - gas - storage - actionFees;
      return {
        '@type': 'query.fees',
        source_fees: { '@type': 'fees', in_fwd_fee: Number(inFwd), storage_fee: Number(storage), gas_fee: Number(gas), fwd_fee: Number(fwd) },
        destination_fees: [],
      };
    },
    async tryLocateResultTx({ source, destination, created_lt }) {
      // The transaction on `destination` that processed the message `source` created at created_lt.
      const tx = ledger.findTransaction(destination, (t) => {
        const info = t.inMessage?.info;
        return info?.type === 'internal' && info.src.equals(source) && info.createdLt === created_lt;
      });
      if (!tx) throw new ApiError(404, `no transaction on ${destination.toString()} for a message from ${source.toString()} created at lt ${created_lt}`);
      return transactionJson(tx, destination);
    },
    async tryLocateSourceTx({ source, destination, created_lt }) {
      // The transaction on `source` that sent a message to `destination` created at created_lt.
      const tx = ledger.findTransaction(source, (t) => [...t.outMessages.values()].some((m) =>
        m.info.type === 'internal' && m.info.dest.equals(destination) && m.info.createdLt === created_lt));
      if (!tx) throw new ApiError(404, `no transaction on ${source.toString()} sent a message to ${destination.toString()} at lt ${created_lt}`);
      return transactionJson(tx, source);
    },
    async getMasterchainInfo() {
      return {
        '@type': 'blocks.masterchainInfo',
        last: blockId(-1, ledger.seqno),
        state_root_hash: ledger.blockHash(ledger.seqno),
        init: blockId(-1, 0),
      };
    },
  };

  async function deliver(boc: Buffer): Promise<Cell> {
    const { cell, message } = parseMessageBoc(boc);
    if (message.info.type !== 'external-in') throw new ApiError(400, 'sendBoc accepts external messages only');
    try {
      await ledger.send(cell);
    } catch (err) {
      // Like a real node: a message the contract does not accept is refused, nothing is recorded.
      throw new ApiError(500, `external message not accepted by ${message.info.dest.toString()}: ${(err as Error).message.split('\n')[0]}`);
    }
    return cell;
  }

  async function call(method: string, params: unknown): Promise<unknown> {
    if (!Object.hasOwn(schemas, method)) throw new ApiError(404, `method "${method}" is not served by the local chain`);
    const name = method as MethodName;
    log?.debug({ method: name }, 'local chain API call');
    const parsed = schemas[name].safeParse(params ?? {});
    if (!parsed.success) {
      throw new ApiError(400, `bad parameters for ${name}: ${parsed.error.issues.map((i) => `${i.path.join('.') || 'params'}: ${i.message}`).join('; ')}`);
    }
    return (handlers[name] as (p: unknown) => Promise<unknown>)(parsed.data);
  }

  return { call };
}

export async function serveLocalApi(ledger: LocalLedger, port: number, log?: Logger): Promise<{ server: Server; endpoint: string; baseUrl: string }> {
  const api = createLocalApi(ledger, log);
  const send = (res: ServerResponse, status: number, body: Record<string, unknown>, id?: unknown) => {
    const full = id === undefined ? body : { ...body, id, jsonrpc: '2.0' };
    res.writeHead(status, { 'content-type': 'application/json' });
    res.end(JSON.stringify(full, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v)));
  };
  // Request line, URL, body and JSON are parsed by the shared defensive helper; whatever a peer
  // sends ends as an answer on its own connection, never as an exception in this process.
  const render = (res: ServerResponse, err: HttpError) => {
    res.setHeader('connection', err.headers.connection ?? 'keep-alive');
    send(res, err.status, { ok: false, error: err.message, code: err.status });
  };
  const server = hardenServer(createServer(safeHandler(async (req, res) => {
    const url = requestTarget(req);
    const path = url.path.replace(/^\/api\/v2/, '').replace(/\/$/, '') || '/';
    let id: unknown;
    try {
      let method: string;
      let params: unknown;
      if (req.method === 'POST' && (path === '/jsonRPC' || path === '/')) {
        const parsed = parseJson((await readBody(req, MAX_BODY_BYTES)).toString('utf8'));
        if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new ApiError(400, 'JSON-RPC request must be an object');
        const rpc = parsed as { method?: unknown; params?: unknown; id?: unknown };
        id = rpc.id;
        if (typeof rpc.method !== 'string') throw new ApiError(400, 'JSON-RPC request without a method');
        method = rpc.method;
        params = rpc.params;
      } else if (req.method === 'GET' && path.length > 1) {
        method = decodePath(path.slice(1));
        params = Object.fromEntries(url.query);
      } else {
        throw new ApiError(404, `no route for ${req.method} ${url.path}; use POST /jsonRPC`);
      }
      const result = await api.call(method, params);
      send(res, 200, { ok: true, result }, id);
    } catch (err) {
      if (err instanceof HttpError) throw err;
      const code = err instanceof ApiError ? err.code : 500;
      if (!(err instanceof ApiError)) log?.error({ err }, 'local chain API failure');
      // JSON-RPC errors are HTTP 200 so clients show our message rather than a bare status.
      send(res, id === undefined ? code : 200, { ok: false, error: (err as Error).message, code }, id);
    }
  }, { ...(log && { log }), render })), { ...(log && { log }) });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => resolve());
  });
  const bound = (server.address() as AddressInfo).port;
  const baseUrl = `http://127.0.0.1:${bound}`;
  return { server, baseUrl, endpoint: `${baseUrl}/jsonRPC` };
}
