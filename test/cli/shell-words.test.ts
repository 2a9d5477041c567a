import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { describe, it } from 'node:test';
import { flagWords, shellWord } from '../../src/cli/shell-words.js';
import { holdsTerminalControls } from '../../src/domain/printable.js';

/** What bash makes of `word` as one argument. */
const pasted = (words: string) =>
  JSON.parse(
    execFileSync(
      'bash',
      ['-c', `node -e 'console.log(JSON.stringify(process.argv.slice(1)))' -- ${words}`],
      {
        encoding: 'utf8',
      },
    ),
  ) as string[];

describe('words printed for a shell', () => {
  it('paste back as the same text, whatever it holds', () => {
    for (const text of [
      'plain-word_1.2',
      "it's",
      'x; touch /tmp/PWNED #',
      '$(reboot) `id` $HOME',
      'tab\there, new\nline',
      'esc \u001b]0;title\u0007 bidi \u202e zero\u200bwidth',
      'back\\slash \\u001b',
      '=ls',
      '~root',
      '',
    ]) {
      const word = shellWord(text);
      assert.deepEqual(pasted(word), [text], `${JSON.stringify(text)} as ${word}`);
      assert.ok(!holdsTerminalControls(word), `nothing a terminal acts on: ${word}`);
    }
  });

  it('write a value starting with "-" with = so it is not read as a flag', () => {
    assert.equal(flagWords('search', '-dash'), '--search=-dash');
    assert.equal(flagWords('name', "-dash it's $x"), "--name='-dash it'\\''s $x'");
    assert.deepEqual(pasted(flagWords('name', "-dash it's $x")), ["--name=-dash it's $x"]);
    assert.equal(flagWords('after', 'WzEwMF0'), '--after WzEwMF0');
    assert.equal(shellWord('=ls'), "'=ls'", 'zsh would run =ls as a path');
  });
});
