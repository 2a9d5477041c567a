// @ts-check
// The dashboard: plain JavaScript modules, no build step, no framework,
// nothing fetched from anywhere but this service. One event stream (live.js)
// brings the events (timeline.js) and the state (status.js); the sessions
// (sessions.js) are listed again when an event says they changed. After a
// crash, every open tab waits for the next instance and shows what changed
// and what did not. Each row's time left counts down on the page (expiry.js).
import { startTicking } from './expiry.js';
import { followLive } from './live.js';
import {
  forgetSession,
  loadSessions,
  loadSessionsSoon,
  searchAgainIfCutShort,
  setLiveSessions,
  setUpCreateForm,
  setUpPager,
} from './sessions.js';
import { setUpCrashButton, showConnection, stateArrived } from './status.js';
import { addToTimeline } from './timeline.js';

setUpCreateForm();
setUpPager();
setUpCrashButton();
startTicking();
followLive({
  onEvent(event) {
    addToTimeline(event);
    // A session deleted or swept away leaves the list at once.
    const gone = event.event === 'session_deleted' || event.event === 'session_expired';
    if (gone && typeof event.session_id === 'string') forgetSession(event.session_id);
    if (event.event.startsWith('session_')) loadSessionsSoon();
  },
  onState(state) {
    setLiveSessions(state.live_sessions);
    void stateArrived(state);
  },
  onConnection(connection) {
    showConnection(connection);
    if (connection === 'up') searchAgainIfCutShort();
  },
});
void loadSessions();
