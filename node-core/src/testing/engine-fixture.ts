import OpenAI from 'openai';
import { afterAll, beforeAll } from 'vitest';
import { startTestEngine, type TestEngine } from '../inference/test-engine.ts';

/**
 * A test engine for the tests of one file, with the official `openai` client pointed at it:
 * started before the file's tests, stopped after. Read `engine` and `openai` inside the tests.
 */
export function useTestEngine(model: string): { readonly engine: TestEngine; readonly openai: OpenAI } {
  let engine: TestEngine | undefined;
  let openai: OpenAI | undefined;
  beforeAll(async () => {
    engine = await startTestEngine({ model });
    openai = new OpenAI({ baseURL: `${engine.url}/v1`, apiKey: 'unused' });
  });
  afterAll(() => engine?.stop());
  return {
    get engine() { if (!engine) throw new Error('the test engine is not started yet'); return engine; },
    get openai() { if (!openai) throw new Error('the test engine is not started yet'); return openai; },
  };
}
