/**
 * For `inspect --verify`: the session files against what a start serves when
 * it trusts snapshot.jsonl (the snapshot and the journal after it), and what
 * that start will do about each difference, by the rules a start follows
 * (store/file/foreign-changes.ts): adopt it (another program changed the
 * file, and the log or the clean stop's seal shows it), not see it (an edit
 * in place that left the seal as it was), or write the file again (the last
 * instance did not stop cleanly, so the file may be its own, behind). Holds
 * a digest a session, not the sessions.
 */
import { createHash } from 'node:crypto';
import { lstatSync } from 'node:fs';
import { join } from 'node:path';
import type { Session } from '../domain/session.js';
import {
  currentBootId,
  type DataLayout,
  type DirectorySeal,
  type ForeignScope,
  firstKept,
  type JournalSegmentRead,
  type MarkerRead,
  readLogAfterMark,
  replayJournal,
  type SnapshotHeader,
  type StoredSession,
  scanEventLog,
  scanSnapshot,
  sessionFileName,
  sessionsPatchedFirst,
  startLooksAt,
  trustedSeal,
  whereToLook,
} from '../store/file/index.js';
import type { Finding } from './finding.js';

function digest(json: string): string {
  return createHash('sha1').update(json).digest('base64');
}

export interface ServedView {
  /** The difference between a readable session file and what a start serves, if any. */
  compare(id: string, json: string): Finding | null;
  /** The sessions served that have no file (call after every file went through compare). */
  missingFiles(): Finding[];
}

export async function servedView(
  layout: DataLayout,
  header: SnapshotHeader,
  segments: readonly JournalSegmentRead[],
  marker: MarkerRead,
): Promise<ServedView> {
  const after = segments.filter((segment) => segment.number >= header.journal_from);
  const { served, outcome } = await servedDigests(layout, after);
  const { scope, seal } = await adoptionScope(layout, header, after, marker);
  const seen = new Set<string>();

  const verdict = (id: string, what: string, held: boolean): Finding | null => {
    const problem = `sessions/${sessionFileName(id)} ${what}`;
    const changeTime = lstatSync(join(layout.sessionsDir, sessionFileName(id)), {
      bigint: true,
      throwIfNoEntry: false,
    })?.ctimeNs;
    if (startLooksAt(scope, id, held, changeTime)) {
      return {
        problem: `${problem}: a start adopts it (${scope?.kind === 'logged' ? 'events.jsonl names the change' : 'sessions/ changed since the last clean stop'})`,
        repair: 'leave it for the start',
        adoptedByStart: true,
      };
    }
    if (seal === null) {
      // After a kill the files of the changes the journal holds lag behind
      // it, as they do while the service runs: no finding.
      if (outcome.has(id)) return null;
      return {
        problem: `${problem}: a start serves what snapshot.jsonl and the journal hold and writes the file again (the last instance did not stop cleanly, or the machine restarted since)`,
        repair: 'write the file from snapshot.jsonl and the journal',
      };
    }
    return {
      problem: `${problem}: a start does not see it (${scope === null ? 'nothing the last clean stop sealed changed, as after an edit in place' : 'it adopts only the changes events.jsonl names'})`,
      repair: 'leave it, and have the next start look at every file changed since the stop',
    };
  };

  return {
    compare(id, json) {
      seen.add(id);
      const expected = served.get(id);
      if (expected === undefined) {
        return verdict(id, 'holds a session a start does not serve', false);
      }
      return expected === digest(json)
        ? null
        : verdict(id, 'differs from what a start serves', true);
    },
    missingFiles() {
      const findings: Finding[] = [];
      for (const id of served.keys()) {
        const finding = seen.has(id) ? null : verdict(id, 'is missing, its session served', true);
        if (finding !== null) findings.push(finding);
      }
      return findings;
    },
  };
}

/** A digest of every session a start serves (the snapshot, the journal after it), by id. */
async function servedDigests(
  layout: DataLayout,
  after: readonly JournalSegmentRead[],
): Promise<{ served: Map<string, string>; outcome: ReadonlyMap<string, StoredSession | null> }> {
  // The snapshot is the base of the sessions the journal patches first.
  const patchedFirst = sessionsPatchedFirst(after);
  const bases = new Map<string, StoredSession>();
  const served = new Map<string, string>();
  await scanSnapshot(layout.snapshotFile, (resident) => {
    served.set(resident.id, digest(resident.json));
    if (patchedFirst.has(resident.id)) {
      bases.set(resident.id, { session: JSON.parse(resident.json) as Session, seq: resident.seq });
    }
  });
  const { outcome } = replayJournal(after, bases);
  for (const [id, last] of outcome) {
    if (last === null) served.delete(id);
    else served.set(id, digest(JSON.stringify(last.session)));
  }
  return { served, outcome };
}

/** Which files a start would look at for others' changes, and the seal it trusts. */
async function adoptionScope(
  layout: DataLayout,
  header: SnapshotHeader,
  after: readonly JournalSegmentRead[],
  marker: MarkerRead,
): Promise<{ scope: ForeignScope | null; seal: DirectorySeal | null }> {
  const log = await scanEventLog(layout.eventsFile, 0, header.events);
  const { foreignLog } = await readLogAfterMark(
    layout,
    log.head,
    Math.max(header.events.offset, firstKept(log.head)),
    log.size,
    after,
    marker.kind === 'ok' ? marker.adoptedThrough : null,
  );
  const seal = trustedSeal(marker, currentBootId());
  const ids = foreignLog.map((entry) => entry.sessionId);
  return { scope: whereToLook(layout, seal, ids)?.scope ?? null, seal };
}
