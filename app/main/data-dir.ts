import { homedir } from 'node:os';
import { join } from 'node:path';

/** Where the app keeps its state (conversations, logs): $COCOON_HOME or ~/.cocoon. */
export function defaultDataDir(): string {
  return process.env.COCOON_HOME ?? join(homedir(), '.cocoon');
}
