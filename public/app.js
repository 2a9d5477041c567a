// @ts-check
// The dashboard: plain JavaScript modules, no build step, no framework,
// nothing fetched from anywhere but this service. It polls GET /state
// (status.js), lists the sessions (sessions.js), follows GET /events/stream
// (timeline.js), and after a crash waits for the service to come back and
// shows what changed and what did not.
import { loadSessions, loadSessionsSoon, setUpCreateForm, setUpPager } from './sessions.js';
import { watchState } from './status.js';
import { followEvents } from './timeline.js';

setUpCreateForm();
setUpPager();
followEvents((event) => {
  if (event.event.startsWith('session_')) loadSessionsSoon();
});
void loadSessions();
watchState();
