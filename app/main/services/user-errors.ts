import type { z } from 'zod';
import { TRANSPORT_ERRORS, type ApiError } from '../../shared/api-contract.ts';
import { CocoonError, errorMessage } from '../../../node-core/src/errors.ts';

/**
 * Errors the way a person reads them: what happened and what to do, never a socket code or a
 * schema path alone. The original text stays in the log.
 */
const FIELD_NAMES: Record<string, string> = {
  amountTon: 'Amount', model: 'Model', temperature: 'Temperature', maxTokens: 'Max tokens',
  messages: 'Messages', backendUrl: 'Backend URL', logLevel: 'Log level', content: 'Message',
};

export function argumentError(request: string, issue: z.core.$ZodIssue): CocoonError {
  const path = issue.path.map(String);
  const field = [...path].reverse().find((p) => !/^\d+$/.test(p));
  const label = field ? FIELD_NAMES[field] ?? field : 'Input';
  // The technical path stays in the message's tail for developers and logs.
  return new CocoonError('bad_arguments', `${label}: ${issue.message} (${request}: ${path.join('.') || 'arguments'})`);
}

interface HttpishError { status?: number; message?: string; code?: string; cause?: unknown }

/** Why a chat request failed, for the chat banner and the interrupted answer. */
export function chatFailure(err: unknown, model: string): string {
  const e = err as HttpishError;
  const causeCode = (e.cause as { code?: string } | undefined)?.code ?? e.code;
  const text = errorMessage(err);
  if (e.status === 404 && /model/i.test(text)) return `No worker serves ${model} on this network right now. Pick a model that has workers, or start a worker for it.`;
  if (e.status === 402) return text.replace(/^402\s*/, '');
  if (e.status === 429 || e.status === 503) return `The network is busy or has no free worker for ${model} (${text.replace(/^\d{3}\s*/, '')}). Try again in a moment.`;
  if (causeCode === 'ECONNREFUSED') return 'The local Cocoon client is not running, so the request could not be sent. Restart the app.';
  if (causeCode === 'ECONNRESET' || /ECONNRESET|socket hang up|terminated|premature close|other side closed/i.test(text)) {
    return 'The connection broke while the answer was streaming (the worker or the proxy went away). What arrived is kept; press Retry.';
  }
  if (/timed? ?out/i.test(text)) return `No answer in time from ${model}. Press Retry, or pick another model.`;
  return text;
}

/** What crosses the boundary for a failed request: the CocoonError's code, else `internal` (a bug in main). */
export function toApiError(err: unknown): ApiError {
  return { code: err instanceof CocoonError ? err.code : TRANSPORT_ERRORS.internal, message: errorMessage(err) };
}
