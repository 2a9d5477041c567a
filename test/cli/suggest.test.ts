import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { didYouMean, editDistance, nearest } from '../../src/cli/suggest.js';

describe('did you mean', () => {
  it('counts the edits between two words', () => {
    assert.equal(editDistance('sesion', 'session'), 1);
    assert.equal(editDistance('', 'abc'), 3);
    assert.equal(editDistance('stat', 'state'), 1);
    assert.equal(editDistance('kitten', 'sitting'), 3);
  });

  it('suggests the close word, and nothing for a word far from all', () => {
    const commands = ['session', 'state', 'health', 'events', 'crash', 'serve'];
    assert.equal(nearest('sesion', commands), 'session');
    assert.equal(nearest('evnets', commands), 'events');
    assert.equal(nearest('STATE', commands), 'state');
    assert.equal(nearest('frobnicate', commands), null);
    assert.equal(nearest('x', commands), null);
    assert.equal(didYouMean('crahs', commands), ' Did you mean "crash"?');
    assert.equal(didYouMean('zzz', commands), '');
  });
});
