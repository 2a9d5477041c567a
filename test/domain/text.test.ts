import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { InvalidInputError } from '../../src/domain/errors.js';
import { parsePageQuery } from '../../src/domain/page.js';
import { printable } from '../../src/domain/printable.js';
import { validatePatchInput, validateSessionInput } from '../../src/domain/session.js';
import { findUnstorableText, unstorableText } from '../../src/domain/text.js';

describe('what text the service stores', () => {
  it('takes any Unicode text, pairs of surrogates and control characters included', () => {
    for (const text of [
      '',
      'plain',
      'é😀',
      '\u0001\u001b[2J\u007f\u009b',
      '\ud83d\ude00',
      '\uffff',
    ]) {
      assert.equal(unstorableText(text), null, JSON.stringify(text));
    }
  });

  it('refuses U+0000 and unpaired surrogates, wherever they are in the string', () => {
    assert.equal(unstorableText('a\u0000b'), 'U+0000 (NUL)');
    assert.equal(unstorableText('\ud800x'), 'an unpaired surrogate (\\ud800)');
    assert.equal(unstorableText('x\ud800'), 'an unpaired surrogate (\\ud800)');
    assert.equal(unstorableText('x\udc00'), 'an unpaired surrogate (\\udc00)');
    assert.equal(
      unstorableText('\ude00\ud83d'),
      'an unpaired surrogate (\\ude00)',
      'swapped halves',
    );
  });

  it('names the field of data that holds it: a value, an item, a key', () => {
    assert.equal(findUnstorableText({ a: { b: ['ok', 'ok'] } }, 'data'), null);
    assert.deepEqual(findUnstorableText({ a: { b: ['ok', 'x\u0000'] } }, 'data'), {
      where: '"data.a.b[1]"',
      problem: 'U+0000 (NUL)',
    });
    assert.deepEqual(findUnstorableText({ a: { '\ud800': 1 } }, 'data'), {
      where: 'a key in "data.a"',
      problem: 'an unpaired surrogate (\\ud800)',
    });
    const long = 'k'.repeat(500);
    const found = findUnstorableText({ [long]: '\u0000' }, 'data');
    assert.ok(found !== null && found.where.length < 130, 'a long path is shortened');
  });

  it('a create, an update, a patch and a search refuse it with a 400 naming the field', () => {
    const refusals: [() => unknown, RegExp][] = [
      [() => validateSessionInput({ name: 'a\u0000b' }), /^"name" holds U\+0000/],
      [
        () => validateSessionInput({ data: { list: [1, '\udfff'] } }),
        /^"data\.list\[1\]" holds an unpaired/,
      ],
      [() => validatePatchInput({ data: { '\u0000': 1 } }, 100), /^a key in "data" holds U\+0000/],
      [() => parsePageQuery({ q: '%\u0000' }, 1 << 20), /^"q" holds U\+0000/],
    ];
    for (const [attempt, message] of refusals) {
      assert.throws(attempt, (error: unknown) => {
        assert.ok(error instanceof InvalidInputError);
        assert.match(error.message, message);
        return true;
      });
    }
    assert.deepEqual(validateSessionInput({ name: '😀', data: { '\u001b': '\u0001' } }), {
      name: '😀',
      data: { '\u001b': '\u0001' },
    });
  });

  it('shows what a terminal would act on visibly, as JSON or as Python’s repr writes it', () => {
    assert.equal(printable('plain é 😀'), 'plain é 😀');
    assert.equal(printable('\u001b]0;x\u0007'), '\\u001b]0;x\\u0007');
    assert.equal(
      printable('a\nb\u009b\u007f\u202e\u2028'),
      'a\\u000ab\\u009b\\u007f\\u202e\\u2028',
    );
    assert.equal(printable('\u001b\n\t\u009b\u202e', 'python'), '\\x1b\\n\\t\\x9b\\u202e');
  });
});
