import { useEffect, useLayoutEffect, useRef, type FormEvent } from 'react';
import type { StoredMessage } from '../../../shared/api-contract.ts';
import { useApp } from '../store.ts';
import { Markdown } from './Markdown.tsx';

/** The playground: conversations, model and sampling settings, streaming answers with stop. */
export function Chat({ disabledReason }: { disabledReason: string | null }) {
  const { settings, conversations, activeId, models, streams, drafts, chatErrors, select, newConversation, update, remove, send, stop, setDraft, retry, continueAnswer, dismissError } = useApp();
  const conv = conversations.find((c) => c.id === activeId) ?? null;
  const live = conv ? streams[conv.id] : undefined;
  const draft = conv ? drafts[conv.id] ?? '' : '';
  const chatError = conv ? chatErrors[conv.id] : undefined;
  const modelInfo = conv ? models.find((m) => m.id === conv.model) : undefined;
  const noWorkers = models.every((m) => m.workers === 0);
  const blocked = disabledReason
    ?? (noWorkers ? 'No workers are serving any model yet.'
    : conv?.model && (!modelInfo || modelInfo.workers === 0) ? `No worker serves ${conv.model} right now; pick a model with workers.` : null);

  const scroller = useRef<HTMLDivElement>(null);
  const stick = useRef(true);
  // Follow the newest text unless the user scrolled up to read; opening a conversation jumps to its end.
  useLayoutEffect(() => {
    stick.current = true;
    scroller.current?.scrollTo({ top: scroller.current.scrollHeight });
  }, [activeId]);
  useEffect(() => {
    const el = scroller.current;
    if (el && stick.current) el.scrollTop = el.scrollHeight;
  }, [conv?.messages.length, live?.content, live?.reasoning]);

  const submit = (e: FormEvent) => {
    e.preventDefault();
    const text = draft.trim();
    if (!text || live || blocked) return;
    void send(text);
  };

  const last = conv?.messages.at(-1);
  return (
    <div className="chat">
      <aside className="conversations">
        <button onClick={newConversation} data-testid="new-conversation">+ New conversation</button>
        <ul>
          {conversations.map((c) => (
            <li key={c.id} className={c.id === activeId ? 'active' : ''} data-testid="conversation-item">
              <button className="link" onClick={() => select(c.id)} title={c.title}>{streams[c.id] ? '● ' : ''}{c.title}</button>
              <button className="icon" title="Delete conversation" onClick={() => void remove(c.id)}>×</button>
            </li>
          ))}
        </ul>
      </aside>
      <div className="thread">
        {conv && (
          <div className="settings">
            <label>Model
              <select value={conv.model} onChange={(e) => update({ model: e.target.value })} data-testid="model-picker">
                {conv.model && !modelInfo && <option value={conv.model}>{conv.model} (not on this network now)</option>}
                {!conv.model && <option value="">(choose a model)</option>}
                {models.map((m) => <option key={m.id} value={m.id}>{m.id} ({m.workers} worker{m.workers === 1 ? '' : 's'})</option>)}
              </select>
            </label>
            <label>Temperature
              <input type="number" min={0} max={2} step={0.1} value={conv.temperature} onChange={(e) => update({ temperature: Math.min(2, Math.max(0, Number(e.target.value) || 0)) })} />
            </label>
            <label>Max tokens
              <input type="number" min={1} max={32768} value={conv.maxTokens} onChange={(e) => update({ maxTokens: Math.min(32768, Math.max(1, Math.floor(Number(e.target.value) || 1))) })} />
            </label>
            {settings?.activeBackend.kind === 'test-engine' && (
              <p className="wide notice small" data-testid="test-engine-notice">Answers come from the built-in test engine: placeholder text with real token counts, not a language model. Point the local network at a real engine in Settings.</p>
            )}
            <label className="wide">System prompt
              <textarea rows={2} value={conv.systemPrompt} onChange={(e) => update({ systemPrompt: e.target.value })} />
            </label>
          </div>
        )}
        <div className="messages" data-testid="messages" ref={scroller}
          onScroll={(e) => { const el = e.currentTarget; stick.current = el.scrollHeight - el.scrollTop - el.clientHeight < 48; }}>
          {conv?.messages.length === 0 && !live && <p className="muted empty">Ask something. Your prompt is encrypted end to end; only this machine sees it.</p>}
          {conv?.messages.map((m, i) => (
            <Message key={i} m={m} isLast={m === last && !live}
              onRetry={() => void retry()} onContinue={() => void continueAnswer()} />
          ))}
          {live && (
            <div className="msg assistant streaming" data-testid="msg-streaming">
              <div className="role">assistant</div>
              {live.reasoning && <details className="reasoning" open><summary>Thinking…</summary><div>{live.reasoning}</div></details>}
              {live.content ? <Markdown text={live.content} /> : <div className="text muted">…</div>}
            </div>
          )}
        </div>
        {chatError && (
          <div className="error" data-testid="chat-error">
            {chatError} <button className="icon" title="Dismiss" onClick={() => conv && dismissError(conv.id)}>×</button>
          </div>
        )}
        {blocked && <div className="error" data-testid="chat-disabled">{blocked}</div>}
        <form className="composer" onSubmit={submit}>
          <textarea
            rows={2} value={draft} placeholder={blocked ? 'Chat is disabled — your text is kept' : 'Message (Enter to send, Shift+Enter for a new line)'}
            data-testid="composer"
            onChange={(e) => conv && setDraft(conv.id, e.target.value)}
            onKeyDown={(e) => { if (e.key === 'Enter' && !e.shiftKey) submit(e); }}
          />
          {live
            ? <button type="button" className="stop" onClick={() => void stop()} data-testid="stop">Stop</button>
            : <button type="submit" disabled={!!blocked || !draft.trim()} data-testid="send">Send</button>}
        </form>
      </div>
    </div>
  );
}

function Message({ m, isLast, onRetry, onContinue }: { m: StoredMessage; isLast: boolean; onRetry(): void; onContinue(): void }) {
  if (m.role !== 'assistant') {
    return (
      <div className={`msg ${m.role}`} data-testid={`msg-${m.role}`}>
        <div className="role">{m.role}</div>
        <div className="text plain">{m.content}</div>
      </div>
    );
  }
  const status = m.status ?? 'complete';
  return (
    <div className={`msg assistant ${status}`} data-testid="msg-assistant" data-status={status}>
      <div className="role">assistant{m.model ? ` · ${m.model}` : ''}</div>
      {m.reasoning && <details className="reasoning"><summary>Reasoning ({m.usage?.completion_tokens_details?.reasoning_tokens ?? '…'} tokens)</summary><div>{m.reasoning}</div></details>}
      <Markdown text={m.content} testId="msg-text" />
      {status !== 'complete' && (
        <div className={`answer-state ${status}`} data-testid="answer-state">
          {status === 'stopped' ? 'Stopped by you.' : `Interrupted: ${m.error ?? 'the answer did not finish.'}`}
        </div>
      )}
      <AnswerMeta m={m} />
      {isLast && (
        <div className="answer-actions">
          {status === 'complete'
            ? <button className="small" onClick={onRetry} data-testid="regenerate">Regenerate</button>
            : <>
                <button className="small" onClick={onRetry} data-testid="retry">Retry</button>
                <button className="small" onClick={onContinue} data-testid="continue">Continue</button>
              </>}
        </div>
      )}
    </div>
  );
}

function AnswerMeta({ m }: { m: StoredMessage }) {
  const parts: string[] = [];
  if (m.ttftMs !== undefined) parts.push(`first token ${m.ttftMs} ms`);
  const completion = m.usage?.completion_tokens;
  if (completion && m.durationMs !== undefined && m.ttftMs !== undefined && m.durationMs > m.ttftMs) {
    parts.push(`${(completion / ((m.durationMs - m.ttftMs) / 1000)).toFixed(1)} tokens/s`);
  }
  if (m.finishReason) parts.push(`finish: ${m.finishReason}`);
  const cost = m.cost as { totalNanoTon?: number } | undefined;
  if (cost?.totalNanoTon !== undefined) parts.push(`${cost.totalNanoTon} nanoTON · ${m.usage?.total_tokens} tokens`);
  else if (m.status && m.status !== 'complete') parts.push('cost not reported');
  if (parts.length === 0) return null;
  return <div className="meta mono" data-testid="answer-meta">{parts.join(' · ')}</div>;
}
