/**
 * A client generated from the served document: openapi-typescript makes its
 * types, a small strict program calls the service with them through fetch
 * (create, read, list, a 404), `tsc --strict` accepts it and refuses the
 * misuses the types should catch, and the program runs against the app.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { promisify } from 'node:util';
import openapiTS, { astToString } from 'openapi-typescript';
import { build } from '../helpers/build-app.js';
import { tempDir } from '../helpers/temp-dir.js';
import { typeCheck, writeStrictTsconfig } from '../helpers/type-check.js';

const PROGRAM = `
import type { components, operations } from './api.js';

// (Node's own types are not this program's business: only its arguments are.)
declare const process: { argv: readonly string[] };

type Session = components['schemas']['Session'];
type SessionInput = components['schemas']['SessionInput'];
type SessionPage = components['schemas']['SessionPage'];
type Created = operations['createSession']['responses'][201]['content']['application/json'];
type ListQuery = NonNullable<operations['listSessions']['parameters']['query']>;
type SessionId = operations['getSession']['parameters']['path']['id'];
type NotFound = operations['getSession']['responses'][404]['content']['application/json'];

class ApiAnswerError extends Error {
  readonly status: number;
  readonly answer: unknown;
  constructor(status: number, answer: unknown) {
    super(String(status));
    this.status = status;
    this.answer = answer;
  }
}

class TypedClient {
  readonly base: string;
  constructor(base: string) {
    this.base = base;
  }

  private async call<T>(method: string, path: string, body?: unknown): Promise<T> {
    const answer = await fetch(new URL(path, this.base), {
      method,
      headers: body === undefined ? {} : { 'content-type': 'application/json' },
      body: body === undefined ? null : JSON.stringify(body),
    });
    const value: unknown = await answer.json();
    if (!answer.ok) throw new ApiAnswerError(answer.status, value);
    return value as T;
  }

  createSession(input: SessionInput): Promise<Created> {
    return this.call('POST', '/sessions', input);
  }

  getSession(id: SessionId): Promise<Session> {
    return this.call('GET', \`/sessions/\${encodeURIComponent(id)}\`);
  }

  listSessions(query: ListQuery): Promise<SessionPage> {
    const search = new URLSearchParams();
    for (const [key, value] of Object.entries(query)) search.set(key, String(value));
    return this.call('GET', \`/sessions?\${search}\`);
  }
}

const client = new TypedClient(process.argv[2] ?? 'http://127.0.0.1:8080');
const made = await client.createSession({ name: 'alice', data: { plan: 'pro' } });
await client.createSession({ name: 'bob' });
const again: Session = await client.getSession(made.id);
const page = await client.listSessions({ limit: 1, order: 'oldest' });
const first: Session | undefined = page.sessions[0];
let code: NotFound['error'] | null = null;
try {
  await client.getSession('00000000-0000-4000-8000-000000000000');
} catch (error) {
  if (error instanceof ApiAnswerError && error.status === 404) {
    code = (error.answer as NotFound).error;
  }
}
const next: string | null = page.next;
console.log(JSON.stringify([again.name, again.data, first?.id === made.id, typeof next, code]));

/** Never called: what the generated types refuse. */
export function misuses(): void {
  // @ts-expect-error: a name is a string
  void client.createSession({ name: 7 });
  // @ts-expect-error: no such order
  void client.listSessions({ order: 'sideways' });
  // @ts-expect-error: a session has no accessCount (it is access_count)
  void again.accessCount;
  // @ts-expect-error: a 404 from this operation carries its documented codes, not any text
  const unknownCode: NotFound['error'] = 'no_such_code';
  void unknownCode;
}
`;

describe('a client generated from the OpenAPI document', () => {
  it('type-checks a strict program that uses its types, refuses misuses, and the program works', async (t) => {
    const { app } = await build(t);
    const document = (await app.inject({ method: 'GET', url: '/openapi.json' })).json();
    const dir = await tempDir(t);
    await writeFile(join(dir, 'api.ts'), astToString(await openapiTS(document)));
    await writeFile(join(dir, 'client.ts'), PROGRAM);
    await writeFile(join(dir, 'package.json'), '{"type":"module"}');
    await writeStrictTsconfig(dir, 'client.ts', { lib: ['ES2022', 'DOM'], noUnusedLocals: true });
    const check = typeCheck(dir);
    assert.equal(check.status, 0, `${check.stdout}${check.stderr}`);

    // The same program with a misuse left unmarked fails: the check above checks.
    await writeFile(
      join(dir, 'client.ts'),
      PROGRAM.replace('// @ts-expect-error: a name', '// a name'),
    );
    const refused = typeCheck(dir);
    assert.notEqual(refused.status, 0);
    assert.match(
      refused.stdout,
      /client\.ts\(\d+,\d+\): error TS2322: Type 'number' is not assignable to type 'string'/,
    );
    await writeFile(join(dir, 'client.ts'), PROGRAM);

    await app.listen({ host: '127.0.0.1', port: 0 });
    const { port } = app.server.address() as AddressInfo;
    const run = await promisify(execFile)(
      process.execPath,
      ['client.ts', `http://127.0.0.1:${port}`],
      {
        cwd: dir,
        encoding: 'utf8',
      },
    );
    assert.deepEqual(JSON.parse(run.stdout), [
      'alice',
      { plan: 'pro' },
      true,
      'string',
      'not_found',
    ]);
  });
});
