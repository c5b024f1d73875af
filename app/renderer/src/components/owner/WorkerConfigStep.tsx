import { useOwner } from '../../owner-store.ts';

/** Step 3: the owner's payout address (checked as a TON address), the GPU and the model. */
export function WorkerConfigStep() {
  const { config, configCheck, gpus, setConfig, checkConfig } = useOwner();
  const err = configCheck?.errors ?? {};
  return (
    <form className="config" data-testid="worker-config" onSubmit={(e) => { e.preventDefault(); void checkConfig(); }}>
      <label>Owner TON address (payouts)
        <input data-testid="owner-address" value={config.ownerAddress} placeholder="UQ… or 0:…" onChange={(e) => setConfig({ ownerAddress: e.target.value.trim() })} />
        {err.ownerAddress && <span className="error small" data-testid="owner-address-error">{err.ownerAddress}</span>}
      </label>
      <label>GPU
        <select value={config.gpu ?? ''} onChange={(e) => setConfig({ gpu: e.target.value || null })}>
          <option value="">none (emulation)</option>
          {gpus.filter((g) => g.ccClass).map((g) => <option key={g.bdf} value={g.bdf}>{g.bdf} {g.model}</option>)}
        </select>
        {err.gpu && <span className="error small">{err.gpu}</span>}
      </label>
      <label>Model
        <input value={config.model} onChange={(e) => setConfig({ model: e.target.value })} />
      </label>
      {err.form && <p className="error small">{err.form}</p>}
      <div className="actions">
        <button type="submit">Check</button>
        {configCheck?.ok && <span className="ok-text small" data-testid="config-ok">✔ valid · payouts to <span className="mono">{configCheck.ownerAddress}</span>{configCheck.network ? ` (${configCheck.network})` : ''}</span>}
      </div>
    </form>
  );
}
