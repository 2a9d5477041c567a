/**
 * The sessions a data directory holds, read from disk as the next start would
 * serve them: the session files with the journal's committed changes applied
 * (files are written behind the journal, within a second).
 */

import type { Session } from '../../src/domain/session.js';
import { applyJournalOffline } from '../../src/store/file/journal.js';
import { dataLayout } from '../../src/store/file/layout.js';
import { readSessionFiles } from '../../src/store/file/session-files.js';

export async function storedSessions(dataDir: string): Promise<Map<string, Session>> {
  const layout = dataLayout(dataDir);
  const files = await readSessionFiles(layout.sessionsDir);
  const { sessions } = applyJournalOffline(files.sessions, layout.journalDir);
  return new Map(sessions.map((stored) => [stored.session.id, stored.session]));
}
