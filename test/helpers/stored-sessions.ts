/**
 * The sessions a data directory holds, read from disk as the next start would
 * serve them: the session files with the journal's committed changes applied
 * (files are written behind the journal, within a second).
 */

import type { Session } from '../../src/domain/session.js';
import { sessionsAsServed } from '../../src/store/file/journal-replay.js';
import { dataLayout } from '../../src/store/file/layout.js';

export async function storedSessions(dataDir: string): Promise<Map<string, Session>> {
  const layout = dataLayout(dataDir);
  const served = sessionsAsServed(layout.sessionsDir, layout.journalDir);
  return new Map(Array.from(served.sessions(), (session) => [session.id, session]));
}
