import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { displayWidth, fit, layOut, timeLeft } from '../../src/cli/output.js';

describe('a table laid out on a terminal', () => {
  // ID 36, NAME (30, down to 12), ACCESSES 8 (hidden second), LAST ACTIVE 20 (hidden first), DATA.
  const columns = [{}, { min: 12 }, { hideOrder: 2 }, { hideOrder: 1 }, {}];
  const natural = [36, 30, 8, 20, 40];

  it('shows every column at its width where there is room, the last taking the rest', () => {
    assert.deepEqual(layOut(columns, natural, 200), {
      shown: [0, 1, 2, 3, 4],
      widths: [36, 30, 8, 20, 200 - 36 - 30 - 8 - 20 - 8],
    });
  });

  it('hides columns in their order, then cuts towards their least, to fit', () => {
    // 80: without LAST ACTIVE, 36 + 12 + 8 + 10 and three gaps is 72; NAME gets the 8 left.
    assert.deepEqual(layOut(columns, natural, 80), {
      shown: [0, 1, 2, 4],
      widths: [36, 20, 8, 10],
    });
    // 70: ACCESSES goes too; NAME 36 + 30 + 10 + 4 = 80 is too wide, so NAME is cut to 20.
    assert.deepEqual(layOut(columns, natural, 70), { shown: [0, 1, 4], widths: [36, 20, 10] });
  });

  it('lets the last column go when even the least widths do not fit, never the first', () => {
    // 60: 36 + 12 + 10 and two gaps is 62; without DATA, NAME takes the 22 left.
    assert.deepEqual(layOut(columns, natural, 60), { shown: [0, 1], widths: [36, 22] });
    const { shown, widths } = layOut(columns, natural, 30);
    assert.deepEqual(shown, [0, 1]);
    assert.deepEqual(widths, [36, 10], 'wider than 30: the id is never cut');
  });

  it('counts the columns a terminal draws: wide characters two, combining marks none', () => {
    assert.equal(displayWidth('ＦＵＬＬ全角'), 12);
    assert.equal(displayWidth('e\u0301te\u0301'), 3);
    assert.equal(displayWidth('🙂 ok'), 5);
    assert.equal(displayWidth('Acme™ ©'), 7, 'symbols drawn as text are one column');
    assert.equal(fit('全角全角全角', 7), '全角全…', 'cut at a whole character, within 7 columns');
    assert.equal(displayWidth(fit('全角全角全角', 7)), 7);
    assert.equal(fit('short', 10), 'short');
  });
});

describe('the time a session has left, as the EXPIRES column shows it', () => {
  const now = Date.parse('2026-12-07T12:00:00Z');
  it('is short, in the largest whole unit, rounded down', () => {
    assert.equal(timeLeft('2026-12-07T12:00:45Z', now), '45s');
    assert.equal(timeLeft('2026-12-07T12:14:59Z', now), '14m');
    assert.equal(timeLeft('2026-12-07T14:30:00Z', now), '2h');
    assert.equal(timeLeft('2026-12-10T13:00:00Z', now), '3d');
  });
  it('is 0s once past (the clock of the CLI behind the service), never negative', () => {
    assert.equal(timeLeft('2026-12-07T11:59:00Z', now), '0s');
  });
});
