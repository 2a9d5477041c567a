/**
 * How the file store makes a change durable (or a session's changes queued
 * together, see session-locks.ts, as one): its journal line (the
 * commit, appended and fdatasynced with the others of its batch, see
 * journal.ts), then its event, appended to events.jsonl without a sync of
 * its own (the journal line holds it until a snapshot syncs the log), then
 * memory, then the write-behind is told which file to write. An event in
 * the log always describes a committed change; a committed change whose
 * event a kill cut off gets it at the next boot.
 */
import { StoppingError } from '../../domain/errors.js';
import type { ServiceEvent } from '../../domain/event.js';
import { cleanUpAfter } from '../cleanup.js';
import type { EventLog } from './event-log.js';
import type { Journal } from './journal.js';
import type { JournalRecord } from './journal-records.js';
import type { SessionTable } from './session-table.js';
import type { WriteBehind } from './write-behind.js';

/** A change to commit, the record that undoes it, and what it does to memory. */
export interface Change {
  record: JournalRecord;
  event: ServiceEvent;
  /** Undoes `record` (and cancels `event`) if the event cannot be written. */
  revert: JournalRecord;
  /** Changes memory; runs once the change and its event are on disk. */
  apply: () => void;
  /** What the change leaves a session's file lacking (see WriteBehind.changed). */
  leaves: 'created' | 'changed' | 'counted';
}

export class Commits {
  private readonly journal: Journal;
  private readonly events: EventLog;
  private readonly table: SessionTable;
  private readonly view: WriteBehind;
  /** Set by a clean stop about to seal the directory: no write commits after it. */
  private sealing = false;
  private readonly inFlight = new Set<Promise<void>>();

  constructor(parts: {
    journal: Journal;
    events: EventLog;
    table: SessionTable;
    view: WriteBehind;
  }) {
    this.journal = parts.journal;
    this.events = parts.events;
    this.table = parts.table;
    this.view = parts.view;
  }

  /**
   * Makes a change durable: its journal line, then its event, then `apply`
   * changes memory, all before the journal segment counts the change
   * finished (so a snapshot that rotated past the segment sees it). If the
   * event cannot be written, the revert line undoes the change and the
   * error is thrown; memory is changed only after both, so reads never see
   * a change in flight.
   */
  commit(change: Change): Promise<void> {
    return this.commitAll([change]);
  }

  /**
   * Makes `changes` durable together, as `commit` makes one: their journal
   * lines in one write (one fdatasync), then their events in one, then each
   * `apply` in order. All of them are made, or none: if their events cannot
   * be written, their revert lines undo them, the last first.
   */
  async commitAll(changes: readonly Change[]): Promise<void> {
    if (this.sealing) throw new StoppingError();
    const committing = this.write(changes);
    this.inFlight.add(committing);
    try {
      await committing;
    } finally {
      this.inFlight.delete(committing);
    }
  }

  /** From now on every commit is refused; resolves once those in flight have settled. */
  async refuseMore(): Promise<void> {
    this.sealing = true;
    await Promise.allSettled([...this.inFlight]);
  }

  private async write(changes: readonly Change[]): Promise<void> {
    // Writes never run further ahead of the checkpoints than the backlog allows.
    await this.view.waitForBacklog();
    const segment = this.journal.segment();
    segment.begin(changes.length);
    try {
      await segment.append(...changes.map(({ record, event }) => ({ ...record, event })));
      try {
        // Durable in the journal until a snapshot.
        await this.events.appendAll(
          changes.map((change) => change.event),
          false,
        );
      } catch (error) {
        // If even the reverts fail, the next boot appends the events instead.
        const reverts = changes.map((change) => change.revert).reverse();
        await cleanUpAfter(error, () => segment.append(...reverts));
        throw error;
      }
      for (const { apply, revert, leaves } of changes) {
        apply();
        this.table.changed();
        this.view.changed(revert.op === 'put' ? revert.session.id : revert.id, leaves);
      }
    } finally {
      segment.end(changes.length);
    }
    this.view.snapshotIfDue();
  }
}
