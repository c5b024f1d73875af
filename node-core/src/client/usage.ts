import type { Usage } from '../inference/openai-types.ts';
import type { TokenCounts } from '../payments/pricing.ts';

/** Token counts from the proxy's final info in OpenAI's `usage` shape. */
export function usageOf(t: TokenCounts): Usage {
  const prompt = t.prompt + t.cached;
  const completion = t.completion + t.reasoning;
  return {
    prompt_tokens: prompt,
    completion_tokens: completion,
    total_tokens: prompt + completion,
    prompt_tokens_details: { cached_tokens: t.cached },
    completion_tokens_details: { reasoning_tokens: t.reasoning },
  };
}
