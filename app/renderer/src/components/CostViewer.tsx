import { CartesianGrid, Legend, Line, LineChart, ResponsiveContainer, Tooltip, XAxis, YAxis } from 'recharts';
import { useMemo } from 'react';
import { chargeState, type ChargeState } from '../../../shared/charge-state.ts';
import { costHistory, useApp, useCharges, type CostRecord } from '../store.ts';

const KINDS = ['prompt', 'cached', 'completion', 'reasoning'] as const;

/** One row per answer, for a spreadsheet: what the client API reported, nothing recomputed. */
export function costsCsv(costs: CostRecord[]): string {
  const header = ['time', 'model', 'conversation', 'prompt_tokens', 'cached_tokens', 'completion_tokens', 'reasoning_tokens', 'total_tokens', 'price_per_token_nanoton', 'total_nanoton', 'worker_nanoton', 'proxy_nanoton', 'status'];
  const q = (v: string | number) => (typeof v === 'number' ? String(v) : `"${v.replace(/"/g, '""')}"`);
  // An answer without a reported cost keeps its row with the numbers left empty (not zero: unknown).
  const rows = costs.map((r) => [r.at, r.model, r.conversation, ...(r.cost && r.usage
    ? [r.cost.tokens.prompt, r.cost.tokens.cached, r.cost.tokens.completion, r.cost.tokens.reasoning, r.usage.total_tokens, r.cost.pricePerToken, r.cost.totalNanoTon, r.cost.workerNanoTon, r.cost.proxyNanoTon]
    : Array<string>(9).fill('')), r.status].map((v) => (v === '' ? '' : q(v))).join(','));
  return [header.join(','), ...rows].join('\n') + '\n';
}

function download(name: string, text: string): void {
  const url = URL.createObjectURL(new Blob([text], { type: 'text/csv' }));
  const a = document.createElement('a');
  a.href = url;
  a.download = name;
  a.click();
  setTimeout(() => URL.revokeObjectURL(url), 1_000);
}

const STATE_LABEL: Record<ChargeState, string> = {
  pending: 'pending', signed: 'signed by the proxy', settled: 'settled on chain', untracked: 'not tracked',
};
const STATE_HELP: Record<ChargeState, string> = {
  pending: 'counted by your client; the proxy has not signed a charge covering it yet',
  signed: 'the proxy signed a charge covering it; not on chain yet',
  settled: 'your client contract on chain was charged for it',
  untracked: 'no charge position was recorded for this answer',
};
const HISTORY_ROWS = 50;

/**
 * Per-answer token and cost accounting exactly as the client API returned it, with totals over
 * every stored answer, and where each answer's charge stands: pending → signed → settled on chain
 * (the client's counters, polled while this panel is shown).
 */
export function CostViewer() {
  const conversations = useApp((s) => s.conversations);
  const charges = useCharges(1_500);
  const costs = useMemo(() => costHistory(conversations), [conversations]);
  const priced = costs.filter((r): r is CostRecord & Required<Pick<CostRecord, 'cost' | 'usage'>> => Boolean(r.cost && r.usage));
  const last = priced.at(-1);
  const totals = priced.reduce((t, r) => ({ nano: t.nano + r.cost.totalNanoTon, tokens: t.tokens + r.usage.total_tokens }), { nano: 0, tokens: 0 });
  const series = priced.slice(-100).map((r, i) => ({ n: i + 1, nanoTON: r.cost.totalNanoTon, tokens: r.usage.total_tokens }));
  const history = costs.slice(-HISTORY_ROWS).reverse();
  return (
    <section className="panel" data-testid="cost-viewer">
      <h2>Cost per answer</h2>
      {costs.length === 0 && <p className="muted">No answers yet.</p>}
      {last && (
        <>
          <table className="costs">
            <thead><tr><th>kind</th><th>tokens</th><th>multiplier</th><th>nanoTON</th></tr></thead>
            <tbody>
              {KINDS.map((k) => (
                <tr key={k}>
                  <td>{k}</td>
                  <td className="num" data-testid={`cost-tokens-${k}`}>{last.cost.tokens[k]}</td>
                  <td className="num">×{(last.cost.multipliers[k] / 10000).toFixed(2)}</td>
                  <td className="num">{last.cost.nanoTonByKind[k]}</td>
                </tr>
              ))}
              <tr className="total">
                <td>total</td><td className="num" data-testid="cost-total-tokens">{last.usage.total_tokens}</td>
                <td className="num">{last.cost.pricePerToken} nTON/t</td>
                <td className="num" data-testid="cost-total-nanoton">{last.cost.totalNanoTon}</td>
              </tr>
            </tbody>
          </table>
          <p className="mono small">= {last.cost.totalTon} TON · worker {last.cost.workerNanoTon} · proxy {last.cost.proxyNanoTon} nanoTON</p>
        </>
      )}
      {costs.length > 0 && (
        <>
          <p className="small">All answers: <b data-testid="session-answers">{costs.length}</b> answers, <b data-testid="session-tokens">{totals.tokens}</b> tokens, <b data-testid="session-nanoton">{totals.nano}</b> nanoTON</p>
          {charges && (
            <p className="small mono" data-testid="charges-summary" title="counted: what the proxy's ledger counted for your client (your client checks it never exceeds what it received at its maximum price coefficient) / signed: the charge the proxy signed / on chain: what your client contract was charged">
              charged: counted <span data-testid="charges-ledger">{charges.nanoTon.ledger}</span> · signed <span data-testid="charges-signed">{charges.nanoTon.signed}</span> · on chain <span data-testid="charges-onchain">{charges.nanoTon.onChain}</span> nanoTON
              {charges.chainError && <span className="muted"> ({charges.chainError})</span>}
            </p>
          )}
          <div className="cost-history">
            <table className="costs" data-testid="cost-history">
              <thead><tr><th>time</th><th className="num">tokens</th><th className="num">nanoTON</th><th>charge</th></tr></thead>
              <tbody>
                {history.map((r, i) => {
                  const state = chargeState(r.chargeMark, charges?.counters ?? null);
                  return (
                    <tr key={`${r.at}-${i}`} data-testid="cost-row" data-state={state} data-status={r.status} data-at={r.at}>
                      <td className="mono">{r.at.slice(11, 19)}</td>
                      <td className="num">{r.usage ? r.usage.total_tokens : '—'}</td>
                      <td className="num" data-testid="cost-row-nanoton">{r.cost ? r.cost.totalNanoTon : <span className="muted" title={`${r.status} answer`}>cost not reported</span>}</td>
                      <td><span className={`charge-state ${state}`} title={STATE_HELP[state]}>{STATE_LABEL[state]}</span></td>
                    </tr>
                  );
                })}
              </tbody>
            </table>
          </div>
          <button className="small" data-testid="export-csv" onClick={() => download(`cocoon-costs-${new Date().toISOString().slice(0, 10)}.csv`, costsCsv(costs))}>Export CSV</button>
          <div className="chart">
            <ResponsiveContainer width="100%" height={160}>
              <LineChart data={series} margin={{ top: 5, right: 10, bottom: 0, left: -10 }}>
                <CartesianGrid strokeDasharray="3 3" stroke="#2a3240" />
                <XAxis dataKey="n" stroke="#8a94a6" fontSize={11} />
                <YAxis yAxisId="l" stroke="#5fb3ff" fontSize={11} />
                <YAxis yAxisId="r" orientation="right" stroke="#7ddc8a" fontSize={11} />
                <Tooltip contentStyle={{ background: '#141a22', border: '1px solid #2a3240' }} />
                <Legend wrapperStyle={{ fontSize: 11 }} />
                <Line yAxisId="l" type="monotone" dataKey="nanoTON" stroke="#5fb3ff" dot={false} isAnimationActive={false} />
                <Line yAxisId="r" type="monotone" dataKey="tokens" stroke="#7ddc8a" dot={false} isAnimationActive={false} />
              </LineChart>
            </ResponsiveContainer>
          </div>
        </>
      )}
    </section>
  );
}
