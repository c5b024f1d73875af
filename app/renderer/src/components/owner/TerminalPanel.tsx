import { FitAddon } from '@xterm/addon-fit';
import { Terminal } from '@xterm/xterm';
import '@xterm/xterm/css/xterm.css';
import { useEffect, useRef, useState } from 'react';
import { api } from '../../api.ts';
import { useOwner } from '../../owner-store.ts';

/**
 * The embedded terminal (xterm.js in the page, a node-pty shell in main). A fix's "Open in
 * terminal" types the command at the prompt without pressing Enter: the owner reads it and runs
 * it (sudo asks for the password here), or edits or clears it.
 */
export function TerminalPanel() {
  const { terminalRequest, setTerminalOpen } = useOwner();
  const host = useRef<HTMLDivElement>(null);
  const session = useRef<{ id: string | null; term: Terminal; fit: FitAddon } | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [exited, setExited] = useState<number | null>(null);
  const typed = useRef(0);

  useEffect(() => {
    const term = new Terminal({ fontSize: 13, cursorBlink: true, convertEol: false, theme: { background: '#0b0f14' } });
    const fit = new FitAddon();
    term.loadAddon(fit);
    term.open(host.current!);
    fit.fit();
    const s = { id: null as string | null, term, fit };
    session.current = s;
    const offData = api.on('pty.data', (d) => { if (d.id === s.id) term.write(d.data); });
    const offExit = api.on('pty.exit', (d) => { if (d.id === s.id) { setExited(d.exitCode); s.id = null; } });
    const input = term.onData((data) => { if (s.id) void api.request('pty.write', { id: s.id, data }); });
    const resize = () => {
      fit.fit();
      if (s.id) void api.request('pty.resize', { id: s.id, cols: Math.max(10, term.cols), rows: Math.max(4, term.rows) });
    };
    window.addEventListener('resize', resize);
    api.request('pty.open', { cols: Math.max(10, term.cols), rows: Math.max(4, term.rows) })
      .then(({ id }) => { s.id = id; typeRequest(); term.focus(); })
      .catch((e: Error) => setError(e.message));
    return () => {
      window.removeEventListener('resize', resize);
      offData(); offExit(); input.dispose();
      if (s.id) void api.request('pty.close', s.id);
      term.dispose();
      session.current = null;
    };
  }, []);

  const typeRequest = () => {
    const s = session.current;
    const req = useOwner.getState().terminalRequest;
    if (!s?.id || !req || req.seq <= typed.current) return;
    typed.current = req.seq;
    // Ctrl-U clears whatever was at the prompt; no newline: the owner presses Enter.
    void api.request('pty.write', { id: s.id, data: `\u0015${req.command}` });
    s.term.focus();
  };
  useEffect(typeRequest, [terminalRequest]);

  return (
    <section className="panel terminal" data-testid="owner-terminal">
      <div className="terminal-head">
        <h2>Terminal</h2>
        <span className="muted small">{error ? '' : exited !== null ? `shell exited (${exited})` : 'your shell on this machine; commands run only when you press Enter'}</span>
        <button className="icon" onClick={() => setTerminalOpen(false)} aria-label="close terminal">✕</button>
      </div>
      {error && <p className="error" data-testid="terminal-error">{error}{terminalRequest ? <><br />Run it in your own terminal: <code className="mono">{terminalRequest.command}</code></> : null}</p>}
      <div ref={host} className="xterm-host" />
    </section>
  );
}
