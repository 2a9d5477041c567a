/**
 * The file store's sessions in memory: every session as its compact JSON
 * (parsed when it is read: a third of the heap of a parsed session), the
 * creation order as a seekable index for pages, the sessions' total
 * footprint (see domain/footprint.ts) against the storage budget, and the
 * sessions' locks (session-locks.ts), which serialise each one's changes
 * and batch the writes queued on it. Nothing here touches
 * the disk but one statfs (the free-space check); the file store changes the
 * table only once a change is durable.
 */
import { statfsSync } from 'node:fs';
import { InvalidInputError, StorageBudgetError, StorageFullError } from '../../domain/errors.js';
import { sessionFootprint } from '../../domain/footprint.js';
import {
  decodeCursor,
  encodeCursor,
  matchesSearch,
  type Page,
  type PageQuery,
  pageIsFull,
  SEARCH_SCAN_LIMIT,
} from '../../domain/page.js';
import {
  isSessionId,
  nameInSessionJson,
  type Session,
  type SessionJson,
  sessionNotFound,
} from '../../domain/session.js';
import type { Clock } from '../../domain/time.js';
import type { StorageUsage } from '../store.js';
import { CreationIndex } from './creation-index.js';
import { DueSessions } from './due-sessions.js';
import { storageError } from './durable-file.js';
import type { CreationKey, StoredSession } from './session-files.js';
import { SessionLocks } from './session-locks.js';
import type { ResidentSession } from './snapshot.js';

/** Sessions a walk over the table (a snapshot, a rebuild of the files) takes at a time. */
const BATCH_SESSIONS = 1000;

/** A session as the table holds it. */
export function residentOf(session: Session, seq: number | undefined): ResidentSession {
  return {
    seq,
    id: session.id,
    created_at: session.created_at,
    footprint: sessionFootprint(session),
    json: JSON.stringify(session),
    expiresAt: session.expires_at === undefined ? undefined : Date.parse(session.expires_at),
  };
}

/** A held session, parsed. */
export function sessionOf(resident: ResidentSession): Session {
  return JSON.parse(resident.json) as Session;
}

/** What the table starts with: the sessions loaded, then what the journal changed on top. */
export interface TableLoad {
  sessions: Iterable<ResidentSession>;
  /** The journal's last version of each session it names; null: deleted. */
  outcome: ReadonlyMap<string, StoredSession | null>;
}

export interface TableLimits {
  /** The most the footprints may add up to (STORAGE_BUDGET_MB). */
  budgetBytes: number;
  /** The free space the data directory's file system must keep (MIN_FREE_DISK_MB); 0: none. */
  minFreeBytes: number;
  /** Where free space is measured. */
  root: string;
  /** Now (epoch ms): a session is gone from its expires_at on. */
  clock: Clock;
}

export class SessionTable {
  /**
   * The sessions, each a ResidentSession whose `json` and `footprint` an
   * update replaces in place (the creation index holds the same objects).
   */
  private readonly sessions = new Map<string, ResidentSession>();
  /** What serialises each session's changes (see session-locks.ts). */
  readonly locks = new SessionLocks();
  private readonly order = new CreationIndex<ResidentSession>();
  /** The sessions that expire, by when (see due-sessions.ts). */
  private readonly expiring = new DueSessions<ResidentSession>();
  private readonly limits: TableLimits;
  /** Bumped by every change of a session (see InProcessFacts.sessionsVersion). */
  private changes = 0;
  private nextSeq: number;
  /** The sessions' footprints added up, reservations for writes in flight included. */
  private storedBytes = 0;

  constructor(load: TableLoad, limits: TableLimits) {
    this.limits = limits;
    for (const resident of load.sessions) this.sessions.set(resident.id, resident);
    for (const [id, last] of load.outcome) {
      if (last === null) this.sessions.delete(id);
      else this.sessions.set(id, residentOf(last.session, last.seq));
    }
    let maxSeq = 0;
    for (const resident of this.sessions.values()) {
      this.order.add(resident);
      this.expiring.add(resident);
      // What was stored is loaded whatever the budget says now: it only stops growth.
      this.storedBytes += resident.footprint;
      if (resident.seq !== undefined && resident.seq > maxSeq) maxSeq = resident.seq;
    }
    this.nextSeq = maxSeq + 1;
  }

  /** What expiry is judged by (see TableLimits.clock). */
  get clock(): Clock {
    return this.limits.clock;
  }

  /** The sessions held: the live ones, and the expired ones the sweep has not yet removed. */
  get size(): number {
    return this.sessions.size;
  }

  /** The sessions not expired: what is served and counted. */
  liveCount(): number {
    this.advance();
    return this.sessions.size - this.expiring.dueCount;
  }

  /** Whether `resident` has expired (it is held until the sweep removes it, never served). */
  private expired(resident: ResidentSession, now: number): boolean {
    return resident.expiresAt !== undefined && resident.expiresAt <= now;
  }

  /**
   * The expired sessions not yet removed, in the order they expired (the
   * sweep's work): each may have been removed, or changed by another
   * program, since; the sweep looks again under its lock.
   */
  expiredSessions(): IterableIterator<ResidentSession> {
    this.advance();
    return this.expiring.dueSessions();
  }

  /** See InProcessFacts.sessionsVersion: a session expiring changes it too (a listing loses it). */
  get version(): number {
    this.advance();
    return this.changes;
  }

  /** Moves what has expired to the due sessions: a change of what is served. */
  private advance(): void {
    if (this.expiring.advance(this.limits.clock()) > 0) this.changes++;
  }

  /** Says that a session changed (see InProcessFacts.sessionsVersion). */
  changed(): void {
    this.changes++;
  }

  /** The sessions by id, to look up without the id check `get` makes. */
  get held(): ReadonlyMap<string, ResidentSession> {
    return this.sessions;
  }

  has(id: string): boolean {
    return this.sessions.has(id);
  }

  /**
   * The held session of `id`, unless it has expired; undefined for an id
   * that is none (never a lookup).
   */
  get(id: string): ResidentSession | undefined {
    const resident = isSessionId(id) ? this.sessions.get(id) : undefined;
    return resident === undefined || this.expired(resident, this.limits.clock())
      ? undefined
      : resident;
  }

  /** Queues `resident` by its expiry again if the sweep found it held and not expired. */
  requeue(resident: ResidentSession): void {
    if (this.sessions.get(resident.id) !== resident) return;
    this.expiring.requeue(resident);
    this.changes++; // served again
  }

  /** Whether `resident` is still held and has expired: the sweep's check, under its lock. */
  isExpiredHeld(resident: ResidentSession): boolean {
    return (
      this.sessions.get(resident.id) === resident && this.expired(resident, this.limits.clock())
    );
  }

  /** The held session of `id`, or NotFoundError. */
  require(id: string): ResidentSession {
    const resident = this.get(id);
    if (resident === undefined) throw sessionNotFound(id);
    return resident;
  }

  /** Every session, in creation order, parsed (for tests and tools). */
  list(): Session[] {
    return Array.from(this.sessions.values(), sessionOf);
  }

  /** A new session, next in creation order (not yet held: see add). */
  newResident(session: Session): ResidentSession {
    return residentOf(session, this.nextSeq++);
  }

  /** A creation order for a session another program made: after every one held. */
  nextInOrder(): number {
    return this.nextSeq++;
  }

  /** Holds a new session whose footprint withBudget has reserved. */
  add(resident: ResidentSession): void {
    this.sessions.set(resident.id, resident);
    this.order.add(resident);
    this.expiring.add(resident);
  }

  /** A held session changed in place: its JSON, its footprint by `growth`, its expiry. */
  rewrite(resident: ResidentSession, next: Session, growth: number): void {
    this.expiring.remove(resident);
    resident.json = JSON.stringify(next);
    resident.footprint += growth;
    resident.expiresAt = next.expires_at === undefined ? undefined : Date.parse(next.expires_at);
    this.expiring.add(resident);
  }

  /** Replaces a held session whole (another program's change; created_at may differ). */
  replace(current: ResidentSession | undefined, next: ResidentSession): void {
    if (current !== undefined) {
      this.order.remove(current);
      this.expiring.remove(current);
      this.storedBytes -= current.footprint;
    }
    this.sessions.set(next.id, next);
    this.order.add(next);
    this.expiring.add(next);
    this.storedBytes += next.footprint;
  }

  /** Drops a session (its deletion is durable). */
  remove(resident: ResidentSession): void {
    this.sessions.delete(resident.id);
    this.order.remove(resident);
    this.expiring.remove(resident);
    this.storedBytes -= resident.footprint;
  }

  usage(): StorageUsage {
    return { bytes: this.storedBytes, budgetBytes: this.limits.budgetBytes };
  }

  /**
   * Runs `write` with `growth` bytes of the budget reserved (see reserve); a
   * failed write gives them back.
   */
  async withBudget(growth: number, write: () => Promise<void>): Promise<void> {
    this.reserve(growth);
    try {
      await write();
    } catch (error) {
      this.release(growth);
      throw error;
    }
  }

  /**
   * Reserves `growth` bytes of the budget for a write, refusing it first if
   * they do not fit (StorageBudgetError, StorageFullError). Shrinking is
   * always allowed, so a full store can still be mended.
   */
  reserve(growth: number): void {
    const { budgetBytes, minFreeBytes, root } = this.limits;
    const mib = (bytes: number) => (bytes / (1024 * 1024)).toFixed(1);
    if (growth > 0 && minFreeBytes > 0) {
      // One statfs (about 0.5 µs): the journal is written into zeros written
      // ahead of it, so a full disk would not refuse the write itself.
      const free = freeBytes(root);
      if (free < minFreeBytes) {
        throw new StorageFullError(
          `The data directory is full: its file system has ${mib(free)} MiB free, below ` +
            `MIN_FREE_DISK_MB (${mib(minFreeBytes)} MiB); nothing was changed. ` +
            'Free space or delete sessions, then retry.',
        );
      }
    }
    if (growth > 0 && this.storedBytes + growth > budgetBytes) {
      throw new StorageBudgetError(
        `The sessions stored use ${mib(this.storedBytes)} MiB of the ${mib(budgetBytes)} MiB ` +
          'storage budget (STORAGE_BUDGET_MB); this write needs ' +
          `${mib(growth)} MiB more. Delete or shrink sessions, or raise the budget.`,
      );
    }
    this.storedBytes += growth;
  }

  /** Gives back what `reserve` took for a write that failed. */
  release(growth: number): void {
    this.storedBytes -= growth;
  }

  /** Every session as JSON, `batchSize` at a time, as of the call. */
  *jsonBatches(batchSize: number): Iterable<readonly SessionJson[]> {
    // The sessions' JSON is copied at once (a reference a session): the
    // listing is the store as of the request, whatever changes while it is sent.
    const now = this.limits.clock();
    const snapshot: SessionJson[] = [];
    for (const resident of this.sessions.values()) {
      if (!this.expired(resident, now)) snapshot.push(resident.json);
    }
    for (let start = 0; start < snapshot.length; start += batchSize) {
      yield snapshot.slice(start, start + batchSize);
    }
  }

  /** A page of sessions after `query.after` (see Store.sessionPage). */
  page(query: PageQuery): Page<SessionJson> {
    const after = query.after === null ? null : cursorKey(decodeCursor(query.after));
    const { search } = query;
    const now = this.limits.clock();
    // The held JSON is the answer's; a search reads only the names it looks at.
    const items: SessionJson[] = [];
    let bytes = 0;
    // A page looks at no more than SEARCH_SCAN_LIMIT sessions: a search's
    // misses, or expired sessions the sweep has not yet removed (after a
    // restart, say), never make one page walk the whole table.
    const { last, more, examined } = this.order.scan(
      after,
      query.limit,
      query.newestFirst,
      SEARCH_SCAN_LIMIT,
      (resident) => {
        // The index holds the residents themselves: no lookup by id (a
        // search at a million sessions is bound by memory reads, not work).
        if (this.expired(resident, now)) return 'skip';
        if (search !== null) {
          const found = matchesSearch(
            { id: resident.id, name: nameInSessionJson(resident.json) },
            search,
          );
          if (!found) return 'skip';
        }
        if (pageIsFull(items.length, bytes, resident.json.length, query.maxBytes)) return 'stop';
        items.push(resident.json);
        bytes += resident.json.length;
        return 'take';
      },
    );
    return {
      items,
      next: more && last !== null ? encodeCursor(cursorOf(last)) : null,
      ...(search === null ? {} : { scanned: examined }),
    };
  }

  /**
   * The sessions in creation order, a batch at a time, the event loop
   * running between batches, whatever changes meanwhile.
   */
  async *residentBatches(): AsyncGenerator<ResidentSession[]> {
    let cursor: CreationKey | null = null;
    for (;;) {
      const { keys, more } = this.order.page(cursor, BATCH_SESSIONS, false);
      if (keys.length > 0) yield keys;
      if (!more) return;
      cursor = keys.at(-1) ?? null;
      await new Promise<void>((resolve) => setImmediate(resolve));
    }
  }
}

/** What the file system holding `path` has free for an unprivileged writer. */
function freeBytes(path: string): number {
  try {
    const stats = statfsSync(path);
    return stats.bavail * stats.bsize;
  } catch (error) {
    throw storageError(error, 'reading the free space');
  }
}

/** A cursor's position: [seq], or [created_at, id] for a session the original wrote. */
function cursorOf(key: CreationKey): (string | number)[] {
  return key.seq === undefined ? [key.created_at, key.id] : [key.seq];
}

function cursorKey(position: (string | number)[]): CreationKey {
  const [first, second] = position;
  if (typeof first === 'number' && second === undefined) {
    return { seq: first, id: '', created_at: '' };
  }
  if (typeof first === 'string' && typeof second === 'string') {
    return { seq: undefined, created_at: first, id: second };
  }
  throw new InvalidInputError('"after" is not a cursor this service gave out ("next").');
}
