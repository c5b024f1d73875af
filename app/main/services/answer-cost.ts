import { z } from 'zod';
import type { ChatUsage, StoredMessage } from '../../shared/api-contract.ts';

/**
 * What the client says an answer cost, from its answer log (`GET /v1/cocoon/answers/{id}`, the id
 * being the `x-cocoon-request-id` header of the answer's response). The app asks it for answers
 * that ended early (stopped, interrupted), whose stream carried no final usage: the client knows
 * what reached it and what it is charged for. A client without the log (404 on the path, or no
 * id header) means "cost not reported". Everything read is validated: the app stores it.
 */
const usageSchema = z.object({
  prompt_tokens: z.number().int().nonnegative(), completion_tokens: z.number().int().nonnegative(), total_tokens: z.number().int().nonnegative(),
  prompt_tokens_details: z.object({ cached_tokens: z.number().int().nonnegative().optional() }).passthrough().optional(),
  completion_tokens_details: z.object({ reasoning_tokens: z.number().int().nonnegative().optional() }).passthrough().optional(),
}).passthrough();

const answerCostSchema = z.object({
  id: z.string().regex(/^[0-9a-f]{64}$/),
  outcome: z.string().max(32),
  usage: usageSchema.nullable().optional(),
  cost: z.object({ totalNanoTon: z.number().int().nonnegative() }).passthrough().nullable().optional(),
  charge: z.object({ state: z.string().max(32), signedCounter: z.string().regex(/^\d{1,30}$/).nullable().optional() }).passthrough().nullable().optional(),
}).passthrough();

export type AnswerCost = z.infer<typeof answerCostSchema>;

export const REQUEST_ID_HEADER = 'x-cocoon-request-id';

/** The request id of a response, when the client sent a well-formed one. */
export function requestIdOf(headers: Headers): string | null {
  const id = headers.get(REQUEST_ID_HEADER);
  return id && /^[0-9a-f]{64}$/.test(id) ? id : null;
}

/**
 * Asks the client's answer log for one answer, waiting up to `waitMs` for its charge to be known.
 * Null when the client has no such log or no such answer, or says something malformed.
 */
export async function fetchAnswerCost(o: { openaiUrl: string; apiKey: string | null; id: string; waitMs?: number; timeoutMs?: number }): Promise<AnswerCost | null> {
  const waitMs = o.waitMs ?? 3_000;
  const url = `${o.openaiUrl.replace(/\/$/, '')}/cocoon/answers/${o.id}?wait_ms=${waitMs}`;
  try {
    const res = await fetch(url, {
      headers: o.apiKey ? { authorization: `Bearer ${o.apiKey}` } : {},
      signal: AbortSignal.timeout(o.timeoutMs ?? waitMs + 2_000),
    });
    if (!res.ok) return null;
    const parsed = answerCostSchema.safeParse(await res.json());
    return parsed.success && parsed.data.id === o.id ? parsed.data : null;
  } catch {
    return null;
  }
}

/** The stored-message fields an answer's reported cost fills (nothing when it reports none). */
export function reportedCostFields(a: AnswerCost | null): Pick<StoredMessage, 'usage' | 'cost'> {
  if (!a?.usage || !a.cost) return {};
  return { usage: a.usage as ChatUsage, cost: a.cost as Record<string, unknown> };
}
