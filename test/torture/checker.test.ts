import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { type Observed, type SessionBody, TortureModel } from './checker.js';

const ID = '3f2a0c1e-0000-4000-8000-000000000001';
const OTHER = '3f2a0c1e-0000-4000-8000-000000000002';

/** A model that acknowledged one create (ID) and one update of it (access_count 1). */
function withOneSession() {
  const model = new TortureModel();
  model.cycle = 1;
  const created = { token: 'c', pad: 'xx' };
  const name = model.createSent(created);
  const session: SessionBody = { id: ID, name, data: created, access_count: 0 };
  model.createAnswered(name, created, { status: 201, json: session });
  const target = model.known.get(ID);
  assert.ok(target !== undefined);
  model.updateSent(target, 'u1');
  const updated = { ...session, data: { token: 'u1', pad: '' }, access_count: 1 };
  model.updateAnswered(target, 'u1', { status: 200, json: updated });
  return { model, session, updated, name };
}

function observed(sessions: SessionBody[], overrides: Partial<Observed> = {}): Observed {
  return {
    sessions,
    events: [
      { event: 'session_created', session_id: ID },
      { event: 'session_updated', session_id: ID },
    ],
    counters: { crash_count: 1, startup_count: 2, total_sessions: 1 },
    verifyFailure: null,
    expected: { kills: 1, crashes: 0, starts: 2 },
    ...overrides,
  };
}

describe('the torture checker', () => {
  it('finds nothing wrong when what was acknowledged is there, with its events and counts', () => {
    const { model, updated } = withOneSession();
    model.checkAfterRestart(observed([updated]));
    assert.deepEqual(model.violations, []);
    assert.equal(model.acknowledged, 2);
    assert.equal(model.history.length, 2);
  });

  it('catches an acknowledged session that is gone, and an update that was lost', () => {
    const gone = withOneSession();
    gone.model.checkAfterRestart(observed([]));
    assert.match(gone.model.violations.join('\n'), /acknowledged session .* is gone/);

    const lost = withOneSession();
    lost.model.checkAfterRestart(observed([lost.session]));
    assert.match(lost.model.violations.join('\n'), /lost updates: access_count 0 < acknowledged 1/);
  });

  it('catches data nobody wrote, and an acknowledged delete that came undone', () => {
    const foreign = withOneSession();
    foreign.model.checkAfterRestart(
      observed([{ ...foreign.updated, data: { token: 'zz', pad: '' } }]),
    );
    assert.match(foreign.model.violations.join('\n'), /holds data nobody wrote \(token zz\)/);

    const undone = withOneSession();
    const target = undone.model.known.get(ID);
    assert.ok(target !== undefined);
    const sent = undone.model.deleteSent(target);
    undone.model.deleteAnswered(target, sent, { status: 200, json: {} });
    undone.model.checkAfterRestart(
      observed([undone.updated], {
        events: [...observed([]).events, { event: 'session_deleted', session_id: ID }],
      }),
    );
    assert.match(undone.model.violations.join('\n'), /acknowledged delete of .* came undone/);
  });

  it('accepts an unacknowledged create that landed whole, and catches one that landed in part', () => {
    const whole = withOneSession();
    const sent = { token: 'n', pad: 'yyy' };
    const name = whole.model.createSent(sent);
    whole.model.createAnswered(name, sent, null);
    whole.model.checkAfterRestart(
      observed([whole.updated, { id: OTHER, name, data: sent, access_count: 0 }]),
    );
    assert.deepEqual(whole.model.violations, []);
    assert.equal(whole.model.landedUnacknowledged, 1);
    assert.equal(whole.model.known.get(OTHER)?.createAcknowledged, false);

    const half = withOneSession();
    const name2 = half.model.createSent(sent);
    half.model.createAnswered(name2, sent, null);
    half.model.checkAfterRestart(
      observed([
        half.updated,
        { id: OTHER, name: name2, data: { ...sent, pad: '' }, access_count: 0 },
      ]),
    );
    assert.match(half.model.violations.join('\n'), /is only half there/);

    const stranger = withOneSession();
    stranger.model.checkAfterRestart(
      observed([stranger.updated, { id: OTHER, name: 'n-?', data: sent, access_count: 0 }]),
    );
    assert.match(stranger.model.violations.join('\n'), /was never created by a client/);
  });

  it('catches missing events, wrong counters and a complaint of the inspector', () => {
    const { model, updated } = withOneSession();
    model.checkAfterRestart(
      observed([updated], {
        events: [],
        counters: { crash_count: 0, startup_count: 1, total_sessions: 0 },
        verifyFailure: 'sessions/x.json: not valid JSON',
      }),
    );
    const text = model.violations.join('\n');
    for (const expected of [
      /inspect --verify failed: sessions\/x.json/,
      /no session_created event for acknowledged create/,
      /1 acknowledged updates, fewer events/,
      /crash_count 0 != 1 kills \+ 0 crashes/,
      /startup_count 1 != 2 starts/,
      /total_sessions 0 < 1 acknowledged creates/,
    ]) {
      assert.match(text, expected);
    }
    assert.ok(model.violations.every((line) => line.startsWith('cycle 1: ')));
  });

  it('accepts two concurrent deletes of one session served in either order, but not a lone 404', () => {
    const { model } = withOneSession();
    const target = model.known.get(ID);
    assert.ok(target !== undefined);
    const first = model.deleteSent(target);
    const second = model.deleteSent(target);
    model.deleteAnswered(target, second, { status: 200, json: {} }); // served first
    model.deleteAnswered(target, first, { status: 404, json: null });
    assert.deepEqual(model.violations, []);

    const lone = withOneSession();
    const alone = lone.model.known.get(ID);
    assert.ok(alone !== undefined);
    lone.model.deleteAnswered(alone, lone.model.deleteSent(alone), { status: 404, json: null });
    assert.match(lone.model.violations.join('\n'), /delete of live session .* answered 404/);
  });

  it('catches answers that contradict what was acknowledged before', () => {
    const { model, session } = withOneSession();
    const target = model.known.get(ID);
    assert.ok(target !== undefined);
    model.readAnswered(target, target.maxAckedCount, { status: 200, json: session });
    model.readAnswered(target, target.maxAckedCount, { status: 404, json: null });
    model.updateAnswered(target, 'u2', { status: 500, json: null });
    model.readAnswered(target, target.maxAckedCount, null); // no answer: nothing to judge
    assert.deepEqual(
      model.violations.map((line) => line.replace(/^cycle 1: /, '')),
      [
        `read of ${ID} saw access_count 0 < acknowledged 1`,
        `read of live session ${ID} answered 404`,
        'update answered 500',
      ],
    );
  });

  describe('with expiry', () => {
    const EXPIRES = '2026-12-07T10:00:05Z';
    /** A model on a clock the test sets, with one session expiring at EXPIRES, updated once. */
    function expiring() {
      let now = Date.parse('2026-12-07T10:00:00Z');
      const model = new TortureModel(() => now);
      model.cycle = 1;
      const created = { token: 'c', pad: '' };
      const name = model.createSent(created);
      const session: SessionBody = {
        id: ID,
        name,
        data: created,
        access_count: 0,
        expires_at: EXPIRES,
      };
      model.createAnswered(name, created, { status: 201, json: session });
      const target = model.known.get(ID);
      assert.ok(target !== undefined);
      model.updateSent(target, 'u1');
      model.updateAnswered(target, 'u1', {
        status: 200,
        json: { ...session, data: { token: 'u1', pad: '' }, access_count: 1 },
      });
      return { model, target, at: (iso: string) => (now = Date.parse(iso)) };
    }
    const sweptAt = (expiredAt: string) => ({
      event: 'session_expired',
      session_id: ID,
      expired_at: expiredAt,
    });

    it('takes a 404 once the acknowledged expiry has passed, never before', () => {
      const early = expiring();
      early.at('2026-12-07T10:00:04Z');
      early.model.readAnswered(early.target, 1, { status: 404, json: {} });
      assert.match(early.model.violations.join('\n'), /read of live session .* answered 404/);

      const late = expiring();
      late.at(EXPIRES);
      late.model.readAnswered(late.target, 1, { status: 404, json: {} });
      late.model.touchSent(late.target);
      late.model.touchAnswered(late.target, { status: 404, json: {} });
      assert.deepEqual(late.model.violations, []);
    });

    it('takes a session gone with its session_expired event, or expired and not yet swept', () => {
      const swept = expiring();
      const events = observed([]).events;
      swept.model.checkAfterRestart(observed([], { events: [...events, sweptAt(EXPIRES)] }));
      assert.deepEqual(swept.model.violations, []);
      assert.equal(swept.model.known.size, 0);

      const hidden = expiring();
      hidden.at(EXPIRES);
      hidden.model.checkAfterRestart(observed([]));
      assert.deepEqual(hidden.model.violations, []);

      const early = expiring();
      early.model.checkAfterRestart(observed([]));
      assert.match(early.model.violations.join('\n'), /acknowledged session .* is gone/);
    });

    it('catches a sweep by an expiry older than one acknowledged, a write after it, and a return', () => {
      const older = expiring();
      const events = observed([]).events;
      older.model.checkAfterRestart(
        observed([], { events: [...events, sweptAt('2026-12-07T10:00:04Z')] }),
      );
      assert.match(older.model.violations.join('\n'), /swept by expiry .* before the acknowledged/);

      const after = expiring();
      after.model.checkAfterRestart(
        observed([], {
          events: [...events, sweptAt(EXPIRES), { event: 'session_updated', session_id: ID }],
        }),
      );
      assert.match(
        after.model.violations.join('\n'),
        /session_updated .* after its session_expired/,
      );

      const back = expiring();
      const session = { id: ID, name: 'n-c', data: { token: 'u1', pad: '' }, access_count: 1 };
      back.model.checkAfterRestart(
        observed([{ ...session, expires_at: EXPIRES }], { events: [...events, sweptAt(EXPIRES)] }),
      );
      assert.match(back.model.violations.join('\n'), /is back after its session_expired/);
    });
  });
});
