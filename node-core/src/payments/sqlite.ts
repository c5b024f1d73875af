/**
 * The SQLite conventions every payment store shares: WAL journal, integers read back as bigint
 * (amounts are nanoTON and counters are uint64 on chain, so no float ever touches them), and a
 * schema version in `PRAGMA user_version` moved forward by numbered migrations, each in its own
 * transaction.
 *
 * Durability: WAL with synchronous=NORMAL survives a killed process (what `kill -9` tests); a
 * power cut may lose the last commits. Stores that must survive power loss pass `synchronous:
 * 'FULL'` and pay one fsync per commit.
 */
import Database from 'better-sqlite3';
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { CocoonError } from '../errors.ts';

export type SqliteDb = Database.Database;

/** Migration N (1-based) brings the schema from version N-1 to N. */
export type Migration = (db: SqliteDb) => void;

export interface OpenOptions {
  /** What this file holds, for error messages ("proxy ledger"). */
  what: string;
  migrations: readonly Migration[];
  readonly?: boolean;
  synchronous?: 'NORMAL' | 'FULL';
}

/** Largest value an SQLite INTEGER holds; counters and amounts are checked against it before a write. */
export const SQLITE_INT_MAX = (1n << 63n) - 1n;

export function openStore(path: string, opts: OpenOptions): SqliteDb {
  if (!opts.readonly) mkdirSync(dirname(path), { recursive: true });
  let db: SqliteDb;
  try {
    db = new Database(path, { readonly: opts.readonly ?? false, fileMustExist: opts.readonly ?? false });
  } catch (err) {
    throw new CocoonError('store_open_failed', `cannot open the ${opts.what} at ${path}: ${(err as Error).message}`, {
      hint: opts.readonly ? 'is the role\'s data directory right (--data-dir)?' : 'check the directory exists and is writable',
      cause: err,
    });
  }
  db.defaultSafeIntegers(true);
  try {
    if (!opts.readonly) {
      db.pragma('journal_mode = WAL');
      db.pragma(`synchronous = ${opts.synchronous ?? 'NORMAL'}`);
    }
    db.pragma('busy_timeout = 5000');
    db.pragma('foreign_keys = ON');
    const version = Number(db.pragma('user_version', { simple: true }) as bigint);
    const latest = opts.migrations.length;
    if (version > latest) {
      throw new CocoonError('store_too_new', `the ${opts.what} at ${path} has schema version ${version}, newer than this build knows (${latest})`, {
        hint: 'run a newer Cocoon build, or restore the file this build wrote',
      });
    }
    if (version < latest) {
      if (opts.readonly) {
        throw new CocoonError('store_outdated', `the ${opts.what} at ${path} has schema version ${version}; this build expects ${latest}`, {
          hint: 'start the role once with this build so it migrates the file',
        });
      }
      for (let v = version; v < latest; v++) {
        db.transaction(() => {
          opts.migrations[v]!(db);
          db.pragma(`user_version = ${v + 1}`);
        }).immediate();
      }
    }
  } catch (err) {
    db.close();
    throw err;
  }
  return db;
}

/** Checks a value fits an SQLite INTEGER before it is written (a u64 counter above 2^63 would wrap). */
export function storable(name: string, v: bigint): bigint {
  if (v < 0n || v > SQLITE_INT_MAX) throw new CocoonError('amount_out_of_range', `${name} must be in [0, 2^63), got ${v}`);
  return v;
}

const statements = new WeakMap<SqliteDb, Map<string, Database.Statement>>();

/**
 * The prepared statement for `sql` on `db`, prepared once and reused: stores run a few statements
 * per answer on the answering path, and preparing one costs more than running it.
 */
export function statement(db: SqliteDb, sql: string): Database.Statement {
  let byDb = statements.get(db);
  if (!byDb) statements.set(db, (byDb = new Map()));
  let s = byDb.get(sql);
  if (!s) byDb.set(sql, (s = db.prepare(sql)));
  return s;
}
