import { CartesianGrid, Legend, Line, LineChart, ResponsiveContainer, Tooltip, XAxis, YAxis } from 'recharts';
import { useMemo } from 'react';
import { costHistory, useApp, type CostRecord } from '../store.ts';

const KINDS = ['prompt', 'cached', 'completion', 'reasoning'] as const;

/** One row per answer, for a spreadsheet: what the client API reported, nothing recomputed. */
export function costsCsv(costs: CostRecord[]): string {
  const header = ['time', 'model', 'conversation', 'prompt_tokens', 'cached_tokens', 'completion_tokens', 'reasoning_tokens', 'total_tokens', 'price_per_token_nanoton', 'total_nanoton', 'worker_nanoton', 'proxy_nanoton'];
  const q = (v: string | number) => (typeof v === 'number' ? String(v) : `"${v.replace(/"/g, '""')}"`);
  const rows = costs.map((r) => [r.at, r.model, r.conversation, r.cost.tokens.prompt, r.cost.tokens.cached, r.cost.tokens.completion, r.cost.tokens.reasoning, r.usage.total_tokens, r.cost.pricePerToken, r.cost.totalNanoTon, r.cost.workerNanoTon, r.cost.proxyNanoTon].map(q).join(','));
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

/** Per-answer token and cost accounting exactly as the client API returned it, with totals over every stored answer. */
export function CostViewer() {
  const conversations = useApp((s) => s.conversations);
  const costs = useMemo(() => costHistory(conversations), [conversations]);
  const last = costs.at(-1);
  const totals = costs.reduce((t, r) => ({ nano: t.nano + r.cost.totalNanoTon, tokens: t.tokens + r.usage.total_tokens }), { nano: 0, tokens: 0 });
  const series = costs.slice(-100).map((r, i) => ({ n: i + 1, nanoTON: r.cost.totalNanoTon, tokens: r.usage.total_tokens }));
  return (
    <section className="panel" data-testid="cost-viewer">
      <h2>Cost per answer</h2>
      {!last && <p className="muted">No answers yet.</p>}
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
          <p className="small">All answers: <b data-testid="session-answers">{costs.length}</b> answers, <b data-testid="session-tokens">{totals.tokens}</b> tokens, <b data-testid="session-nanoton">{totals.nano}</b> nanoTON</p>
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
