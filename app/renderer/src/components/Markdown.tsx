import DOMPurify from 'dompurify';
import { marked } from 'marked';
import { useMemo, type MouseEvent } from 'react';

/**
 * An answer rendered as Markdown: parsed by marked, then sanitised by DOMPurify before it touches
 * the DOM (a model's output is untrusted input). Code blocks get a copy button; clicks are handled
 * by delegation because the CSP forbids inline handlers.
 */
export function Markdown({ text, testId }: { text: string; testId?: string }) {
  const html = useMemo(() => {
    const raw = marked.parse(text, { async: false, gfm: true, breaks: true });
    const clean = DOMPurify.sanitize(raw, { USE_PROFILES: { html: true }, FORBID_TAGS: ['style', 'form', 'input', 'button'], FORBID_ATTR: ['style'] });
    return clean.replace(/<pre>/g, '<pre><button type="button" class="copy-code" data-copy="code" title="Copy code">Copy</button>');
  }, [text]);

  const onClick = (e: MouseEvent<HTMLDivElement>) => {
    const target = e.target as HTMLElement;
    if (target.dataset.copy !== 'code') return;
    const code = target.parentElement?.querySelector('code')?.textContent ?? '';
    void navigator.clipboard?.writeText(code).then(() => {
      target.textContent = 'Copied';
      setTimeout(() => { target.textContent = 'Copy'; }, 1_200);
    });
  };

  return <div className="text markdown" data-testid={testId} onClick={onClick} dangerouslySetInnerHTML={{ __html: html }} />;
}

/** A small copy button for plain values (hashes, URLs, snippets). */
export function CopyButton({ value, label = 'Copy' }: { value: string; label?: string }) {
  return (
    <button type="button" className="copy" title={`Copy ${value.length > 40 ? 'value' : value}`} onClick={(e) => {
      const b = e.currentTarget;
      void navigator.clipboard?.writeText(value).then(() => {
        b.textContent = 'Copied';
        setTimeout(() => { b.textContent = label; }, 1_200);
      });
    }}>{label}</button>
  );
}
