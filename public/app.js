// @ts-check
// The dashboard: plain JavaScript modules, no build step, no framework,
// nothing fetched from anywhere but this service. One event stream (live.js)
// brings the events (timeline.js) and the state (status.js); the sessions
// (sessions.js) are listed again when an event says they changed. After a
// crash, every open tab waits for the next instance and shows what changed
// and what did not.
import { followLive } from './live.js';
import {
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
followLive({
  onEvent(event) {
    addToTimeline(event);
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
