import { useState, type FormEvent } from 'react';
import { useApp } from '../store.ts';

/** The playground: conversations, model and sampling settings, streaming answers with stop. */
export function Chat({ disabledReason }: { disabledReason: string | null }) {
  const { conversations, activeId, models, streaming, chatError, select, newConversation, update, remove, send, stop } = useApp();
  const conv = conversations.find((c) => c.id === activeId) ?? null;
  const [draft, setDraft] = useState('');
  const busy = streaming !== null && streaming.conversationId === conv?.id;
  const noModel = models.length === 0 || models.every((m) => m.workers === 0);
  const picked = conv ? models.find((m) => m.id === conv.model) : undefined;
  const blocked = disabledReason
    ?? (noModel ? 'No workers are serving any model yet.'
    : picked && picked.workers === 0 ? `No workers serve ${picked.id} right now; pick another model.` : null);

  const submit = (e: FormEvent) => {
    e.preventDefault();
    const text = draft.trim();
    if (!text || busy || blocked) return;
    setDraft('');
    void send(text);
  };

  return (
    <div className="chat">
      <aside className="conversations">
        <button onClick={newConversation} data-testid="new-conversation">+ New conversation</button>
        <ul>
          {conversations.map((c) => (
            <li key={c.id} className={c.id === activeId ? 'active' : ''}>
              <button className="link" onClick={() => select(c.id)}>{c.title}</button>
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
                {models.length === 0 && <option value="">(no models)</option>}
                {models.map((m) => <option key={m.id} value={m.id}>{m.id} ({m.workers} worker{m.workers === 1 ? '' : 's'})</option>)}
              </select>
            </label>
            <label>Temperature
              <input type="number" min={0} max={2} step={0.1} value={conv.temperature} onChange={(e) => update({ temperature: Math.min(2, Math.max(0, Number(e.target.value) || 0)) })} />
            </label>
            <label>Max tokens
              <input type="number" min={1} max={32768} value={conv.maxTokens} onChange={(e) => update({ maxTokens: Math.min(32768, Math.max(1, Math.floor(Number(e.target.value) || 1))) })} />
            </label>
            <label className="wide">System prompt
              <textarea rows={2} value={conv.systemPrompt} onChange={(e) => update({ systemPrompt: e.target.value })} />
            </label>
          </div>
        )}
        <div className="messages" data-testid="messages">
          {conv?.messages.length === 0 && !busy && <p className="muted empty">Ask something. Your prompt is encrypted end to end; only this machine sees it.</p>}
          {conv?.messages.map((m, i) => (
            <div key={i} className={`msg ${m.role}`} data-testid={`msg-${m.role}`}>
              <div className="role">{m.role}</div>
              <div className="text">{m.content}</div>
              {m.cost && <div className="meta mono">{String((m.cost as { totalNanoTon?: number }).totalNanoTon)} nanoTON · {m.usage?.total_tokens} tokens</div>}
            </div>
          ))}
          {busy && (
            <div className="msg assistant streaming" data-testid="msg-streaming">
              <div className="role">assistant</div>
              {streaming.reasoning && <div className="reasoning">{streaming.reasoning}</div>}
              <div className="text">{streaming.content || '…'}</div>
            </div>
          )}
        </div>
        {chatError && <div className="error" data-testid="chat-error">{chatError}</div>}
        {blocked && <div className="error" data-testid="chat-disabled">{blocked}</div>}
        <form className="composer" onSubmit={submit}>
          <textarea
            rows={2} value={draft} placeholder={blocked ? 'Chat is disabled' : 'Message (Enter to send, Shift+Enter for a new line)'}
            disabled={!!blocked} data-testid="composer"
            onChange={(e) => setDraft(e.target.value)}
            onKeyDown={(e) => { if (e.key === 'Enter' && !e.shiftKey) submit(e); }}
          />
          {busy
            ? <button type="button" className="stop" onClick={() => void stop()} data-testid="stop">Stop</button>
            : <button type="submit" disabled={!!blocked || !draft.trim()} data-testid="send">Send</button>}
        </form>
      </div>
    </div>
  );
}
