/**
 * The served /openapi.json passes an OpenAPI linter of its own (Redocly's,
 * with its `recommended` rules, run in-process): not an error and not a
 * warning, with the admin token set and without.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createConfig, lintFromString } from '@redocly/openapi-core';
import { build } from '../helpers/build-app.js';

describe('the OpenAPI document, linted', () => {
  for (const env of [{}, { ADMIN_TOKEN: 'sesame' }]) {
    it(`has no finding under the recommended rules${'ADMIN_TOKEN' in env ? ' (with ADMIN_TOKEN)' : ''}`, async (t) => {
      const { app } = await build(t, env);
      const answer = await app.inject({ method: 'GET', url: '/openapi.json' });
      assert.equal(answer.statusCode, 200);
      const config = await createConfig({ extends: ['recommended'] });
      const problems = await lintFromString({
        source: answer.body,
        absoluteRef: 'openapi.json',
        config,
      });
      const findings = problems.map(
        (problem) =>
          `${problem.severity} ${problem.ruleId}: ${problem.message} at ${problem.location[0]?.pointer}`,
      );
      assert.deepEqual(findings, []);
    });
  }
});
