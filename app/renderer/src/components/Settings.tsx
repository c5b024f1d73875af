import { useEffect, useState } from 'react';
import type { LogLine } from '../../../shared/api-contract.ts';
import { api } from '../api.ts';
import { useApp } from '../store.ts';
import { CopyButton } from './Markdown.tsx';
import { NetworkSettings } from './NetworkSettings.tsx';

/** Network, inference backend, data folder, logs, and how to call the API from your own code. */
export function Settings() {
  const { settings, saveSettings, models } = useApp();
  const [backend, setBackend] = useState<'test-engine' | 'url'>('test-engine');
  const [url, setUrl] = useState('');
  const [saved, setSaved] = useState<string | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [networkError, setNetworkError] = useState<string | null>(null);
  const [logs, setLogs] = useState<LogLine[]>([]);
  const [logError, setLogError] = useState<string | null>(null);

  useEffect(() => {
    if (!settings) return;
    setBackend(settings.backendUrl ? 'url' : 'test-engine');
    setUrl(settings.backendUrl ?? '');
  }, [settings?.backendUrl]);

  const refreshLogs = () => api.request('logs.tail', { lines: 200 }).then((l) => { setLogs(l); setLogError(null); }, (e: Error) => setLogError(e.message));
  useEffect(() => { void refreshLogs(); }, []);

  if (!settings) return <section className="panel"><h2>Settings</h2><p className="muted">Loading…</p></section>;
  const snippet = `import OpenAI from 'openai';\nconst openai = new OpenAI({ baseURL: '${settings.openaiBaseUrl}', apiKey: '${settings.apiKey ?? 'local'}' });\nconst res = await openai.chat.completions.create({\n  model: '${models[0]?.id ?? 'MODEL'}',\n  messages: [{ role: 'user', content: 'hi' }],\n});\nconsole.log(res.choices[0].message.content, res.usage);`;

  const save = async (patch: Parameters<typeof saveSettings>[0]) => {
    setError(null);
    setSaved(null);
    try {
      await saveSettings(patch);
      setSaved('Saved.');
    } catch (e) {
      setError((e as Error).message);
    }
  };

  return (
    <div className="settings-screen" data-testid="settings">
      <NetworkSettings settings={settings} error={networkError} save={async (patch) => {
        setNetworkError(null);
        try { await saveSettings(patch); } catch (e) { setNetworkError((e as Error).message); }
      }} />
      <section className="panel">
        <h2>Data</h2>
        <dl className="kv">
          <dt>Data folder</dt><dd className="mono">{settings.dataDir} <CopyButton value={settings.dataDir} /></dd>
        </dl>
      </section>
      <section className="panel">
        <h2>Use the API from your code</h2>
        <dl className="kv">
          <dt>OpenAI base URL</dt><dd className="mono" data-testid="settings-openai-url">{settings.openaiBaseUrl} <CopyButton value={settings.openaiBaseUrl} /></dd>
          <dt>API key</dt>
          {settings.apiKey
            ? <dd className="mono" data-testid="settings-api-key">{settings.apiKey} <CopyButton value={settings.apiKey} /> <span className="small muted">send as Authorization: Bearer; keep it secret</span></dd>
            : <dd className="small muted" data-testid="settings-api-key">none required (the local network spends no real TON; any value works)</dd>}
        </dl>
        <pre className="snippet mono"><CopyButton value={snippet} label="Copy snippet" />{snippet}</pre>
      </section>
      <section className="panel">
        <h2>Inference backend (local network)</h2>
        <p className="small" data-testid="settings-active-backend">
          Running now: {settings.activeBackend.kind === 'test-engine'
            ? <b>the built-in test engine — deterministic placeholder text with real Qwen3 token counts, not a language model</b>
            : <b className="mono">{settings.activeBackend.url}</b>}
        </p>
        <label><input type="radio" checked={backend === 'test-engine'} onChange={() => setBackend('test-engine')} /> Test engine</label>
        <label><input type="radio" checked={backend === 'url'} onChange={() => setBackend('url')} data-testid="backend-url-radio" /> An OpenAI-compatible engine (vLLM, SGLang, llama.cpp server, Ollama…)</label>
        {backend === 'url' && <input className="wide-input mono" placeholder="http://127.0.0.1:8000" value={url} onChange={(e) => setUrl(e.target.value)} data-testid="backend-url" />}
        <div className="actions">
          <button data-testid="save-backend" onClick={() => void save({ backendUrl: backend === 'url' ? url.trim() : null })}>Save backend</button>
        </div>
        {settings.restartRequired && settings.backendUrl !== settings.activeBackend.url && <p className="notice small" data-testid="restart-required">Saved: the new backend applies when the app is restarted.</p>}
        {saved && !settings.restartRequired && <p className="small muted">{saved}</p>}
        {error && <div className="error small" data-testid="settings-error">{error}</div>}
      </section>
      <section className="panel logs">
        <h2>Logs</h2>
        <div className="actions">
          <label>Level{' '}
            <select value={settings.logLevel} onChange={(e) => void save({ logLevel: e.target.value as typeof settings.logLevel })}>
              {['error', 'warn', 'info', 'debug'].map((l) => <option key={l}>{l}</option>)}
            </select>
          </label>
          <button onClick={() => void refreshLogs()} data-testid="refresh-logs">Refresh</button>
          {settings.logFile && <span className="mono small muted">{settings.logFile}</span>}
        </div>
        {logError && <div className="error small">{logError}</div>}
        {!settings.logFile && <p className="muted small">This app writes no log file.</p>}
        <div className="log-view mono" data-testid="log-view">
          {logs.map((l, i) => (
            <div key={i} className={`log-line ${l.level}`}><span className="muted">{l.time.slice(11, 23)}</span> <b>{l.level}</b> <span className="muted">{l.source}</span> {l.message}</div>
          ))}
          {settings.logFile && logs.length === 0 && <p className="muted small">No log lines yet.</p>}
        </div>
      </section>
    </div>
  );
}
