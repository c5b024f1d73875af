import { EventEmitter } from 'node:events';
import { homedir } from 'node:os';
import type { IPty } from 'node-pty';
import { CocoonError } from '../../../node-core/src/errors.ts';
import type { HandlersFor, RequestArgs, RequestsIn } from '../../shared/api-contract.ts';

/**
 * The owner's embedded terminal: a shell of the local user in a pseudo-terminal (node-pty), so
 * fixes that need sudo can be run with their password prompts. Opt-in: off unless the app was
 * started with it (Electron: always local; web mode: `--terminal`, behind the access token on
 * 127.0.0.1). It only ever runs the shell; what the shell runs is what the owner types.
 */
export interface PtyServiceOptions {
  enabled: boolean;
  shell?: string;
  cwd?: string;
  /** At most this many terminals at once. */
  maxSessions?: number;
}

export class PtyService extends EventEmitter {
  private readonly sessions = new Map<string, IPty>();
  private next = 1;

  constructor(private readonly opts: PtyServiceOptions) {
    super();
  }

  get enabled(): boolean {
    return this.opts.enabled;
  }

  private session(id: string): IPty {
    const p = this.sessions.get(id);
    if (!p) throw new CocoonError('no_terminal', `terminal ${id} is not open (it may have exited)`);
    return p;
  }

  /** The terminal's requests, one typed handler each (arguments arrive validated by AppService). */
  readonly handlers: HandlersFor<RequestsIn<'pty.'>> = {
    'pty.open': (size) => this.open(size),
    'pty.write': (input) => this.write(input),
    'pty.resize': (input) => this.resize(input),
    'pty.close': (id) => this.close(id),
  };

  async open({ cols, rows }: RequestArgs<'pty.open'>[0]): Promise<{ id: string; shell: string }> {
    if (!this.opts.enabled) {
      throw new CocoonError('terminal_disabled', 'the embedded terminal is off', { hint: 'start web mode with `cocoon app --web --terminal` (it gives a shell to whoever holds the access token), or use your own terminal' });
    }
    if (this.sessions.size >= (this.opts.maxSessions ?? 4)) throw new CocoonError('too_many_terminals', 'too many terminals are open; close one first');
    const { spawn } = await import('node-pty');
    const shell = this.opts.shell ?? process.env.SHELL ?? '/bin/bash';
    const id = `pty-${this.next++}`;
    const p = spawn(shell, [], { name: 'xterm-256color', cols, rows, cwd: this.opts.cwd ?? homedir(), env: { ...process.env, TERM: 'xterm-256color' } as Record<string, string> });
    this.sessions.set(id, p);
    p.onData((data) => this.emit('event', 'pty.data', { id, data }));
    p.onExit(({ exitCode }) => {
      this.sessions.delete(id);
      this.emit('event', 'pty.exit', { id, exitCode });
    });
    return { id, shell };
  }

  write({ id, data }: RequestArgs<'pty.write'>[0]): { written: boolean } {
    this.session(id).write(data);
    return { written: true };
  }

  resize({ id, cols, rows }: RequestArgs<'pty.resize'>[0]): { resized: boolean } {
    this.session(id).resize(cols, rows);
    return { resized: true };
  }

  close(id: string): { closed: boolean } {
    const p = this.sessions.get(id);
    p?.kill();
    this.sessions.delete(id);
    return { closed: p !== undefined };
  }

  dispose(): void {
    for (const id of [...this.sessions.keys()]) this.close(id);
  }
}
