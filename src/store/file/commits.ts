/**
 * How the file store makes one change durable: its journal line (the
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
  async commit(change: Change): Promise<void> {
    if (this.sealing) throw new StoppingError();
    const committing = this.write(change);
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

  private async write({ record, event, revert, apply, leaves }: Change): Promise<void> {
    // Writes never run further ahead of the checkpoints than the backlog allows.
    await this.view.waitForBacklog();
    const segment = this.journal.segment();
    segment.begin();
    try {
      await segment.append({ ...record, event });
      try {
        await this.events.append(event, false); // durable in the journal until a snapshot
      } catch (error) {
        // If even the revert fails, the next boot appends the event instead.
        await cleanUpAfter(error, () => segment.append(revert));
        throw error;
      }
      apply();
      this.table.changed();
      this.view.changed(revert.op === 'put' ? revert.session.id : revert.id, leaves);
    } finally {
      segment.end();
    }
    this.view.snapshotIfDue();
  }
}
