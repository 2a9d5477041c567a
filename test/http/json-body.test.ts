import assert from 'node:assert/strict';
import { test } from 'node:test';
import { MAX_NESTING, RefusedBody, readJsonBody } from '../../src/http/json-body.js';

const refusal = (body: Buffer): string => {
  const value = readJsonBody(body);
  assert.ok(value instanceof RefusedBody, `refused: ${body.toString('latin1')}`);
  return value.error.message;
};

test('a body is its JSON value, and no body or only spaces is none', () => {
  assert.deepEqual(readJsonBody(Buffer.from('{"data":{"step":1}}')), { data: { step: 1 } });
  assert.equal(readJsonBody(Buffer.alloc(0)), undefined);
  assert.equal(readJsonBody(Buffer.from(' \n')), undefined);
});

test('a body that is not JSON, not UTF-8 or too deep is refused with why', () => {
  assert.match(refusal(Buffer.from('{"data":')), /^The body is not valid JSON \(.+\)\.$/);
  assert.equal(refusal(Buffer.from([0x7b, 0xff, 0x7d])), 'The body is not valid UTF-8.');
  const deep = `${'['.repeat(MAX_NESTING + 1)}${']'.repeat(MAX_NESTING + 1)}`;
  assert.equal(refusal(Buffer.from(deep)), `The body is nested deeper than ${MAX_NESTING} levels.`);
});

test("a refused body's decoder or parser error is made without a stack, and the limit is restored", () => {
  const limit = Error.stackTraceLimit;
  const parse = JSON.parse;
  const decode = TextDecoder.prototype.decode;
  const limitsSeen: number[] = [];
  JSON.parse = (text: string) => {
    limitsSeen.push(Error.stackTraceLimit);
    return parse(text);
  };
  TextDecoder.prototype.decode = function (
    this: InstanceType<typeof TextDecoder>,
    ...args: Parameters<typeof decode>
  ) {
    limitsSeen.push(Error.stackTraceLimit);
    return decode.apply(this, args);
  };
  try {
    refusal(Buffer.from('{"data":'));
    refusal(Buffer.from([0x7b, 0xff, 0x7d]));
  } finally {
    JSON.parse = parse;
    TextDecoder.prototype.decode = decode;
  }
  // Decoded and parsed; decoded only.
  assert.deepEqual(limitsSeen, [0, 0, 0]);
  assert.equal(Error.stackTraceLimit, limit);
  readJsonBody(Buffer.from('{"ok":true}'));
  assert.equal(Error.stackTraceLimit, limit);
});
