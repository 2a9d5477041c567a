import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  AppError,
  InvalidInputError,
  NotFoundError,
  StorageUnavailableError,
} from '../../src/domain/errors.js';

const frames = (error: Error) =>
  (error.stack ?? '').split('\n').filter((line) => /^\s+at /.test(line));

test('a client error is made without a stack; a server error keeps its own', () => {
  const limit = Error.stackTraceLimit;
  const notFound = new NotFoundError('No session with id x.');
  assert.deepEqual(frames(notFound), []);
  assert.deepEqual(frames(new InvalidInputError('bad')), []);
  assert.equal(notFound.message, 'No session with id x.');
  assert.equal(notFound.code, 'not_found');
  assert.equal(notFound.statusCode, 404);
  assert.equal(notFound.name, 'NotFoundError');
  assert.ok(notFound instanceof AppError);

  const unavailable = new StorageUnavailableError('EIO');
  assert.ok(frames(unavailable).length > 0, 'a 5xx is logged, with where it came from');
  // The limit is the process's again, for every other error.
  assert.equal(Error.stackTraceLimit, limit);
  assert.ok(frames(new Error('plain')).length > 0);
});
