import { CartesianGrid, Legend, Line, LineChart, ResponsiveContainer, Tooltip, XAxis, YAxis } from 'recharts';
import { useApp } from '../store.ts';

const KINDS = ['prompt', 'cached', 'completion', 'reasoning'] as const;

/** Per-answer token and cost accounting exactly as the client API returned it, with session totals. */
export function CostViewer() {
  const costs = useApp((s) => s.costs);
  const last = costs.at(-1);
  const totals = costs.reduce((t, r) => ({ nano: t.nano + r.cost.totalNanoTon, tokens: t.tokens + r.usage.total_tokens }), { nano: 0, tokens: 0 });
  const series = costs.map((r, i) => ({ n: i + 1, nanoTON: r.cost.totalNanoTon, tokens: r.usage.total_tokens }));
  return (
    <section className="panel" data-testid="cost-viewer">
      <h2>Cost per answer</h2>
      {!last && <p className="muted">No answers yet in this session.</p>}
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
          <p className="small">Session: <b data-testid="session-answers">{costs.length}</b> answers, <b data-testid="session-tokens">{totals.tokens}</b> tokens, <b data-testid="session-nanoton">{totals.nano}</b> nanoTON</p>
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
