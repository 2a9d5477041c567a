/**
 * The client for people: `stateful session …`, `state`, `events`, `health`,
 * `crash`. Builds bodies with JSON.stringify (quotes, spaces and any Unicode
 * in names and notes just work), prints answers as indented JSON, and says
 * plainly when the service cannot be reached.
 */
import { once } from 'node:events';
import { createInterface } from 'node:readline/promises';
import { parseArgs } from 'node:util';
import { loadClientConfig } from '../config.js';

export class UsageError extends Error {}

/** The service did not answer at all (exit status 3). */
export class UnreachableError extends Error {}

interface Answer {
  status: number;
  body: unknown;
}

async function call(
  baseUrl: string,
  method: string,
  path: string,
  body?: unknown,
): Promise<Answer> {
  const url = new URL(path, baseUrl);
  let response: Response;
  try {
    response = await fetch(url, {
      method,
      headers:
        body === undefined
          ? {}
          : {
              'content-type':
                method === 'PATCH' ? 'application/merge-patch+json' : 'application/json',
            },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      signal: AbortSignal.timeout(30_000),
    });
  } catch (error) {
    const cause = (error as { cause?: { code?: string } }).cause?.code ?? (error as Error).message;
    throw new UnreachableError(
      `Cannot reach the service at ${baseUrl} (${cause}). Is it running? Start it with \`npm start\`, or pass --url.`,
    );
  }
  const text = await response.text();
  let parsed: unknown = text;
  try {
    parsed = JSON.parse(text);
  } catch {
    // not JSON: show it as it came
  }
  return { status: response.status, body: parsed };
}

function print(answer: Answer): number {
  const text = typeof answer.body === 'string' ? answer.body : JSON.stringify(answer.body, null, 2);
  if (answer.status >= 400) {
    process.stderr.write(`HTTP ${answer.status}\n${text}\n`);
    return 1;
  }
  process.stdout.write(`${text}\n`);
  return 0;
}

function sessionBody(values: {
  name?: string;
  note?: string;
  data?: string;
}): Record<string, unknown> {
  const body: Record<string, unknown> = {};
  if (values.name !== undefined) body.name = values.name;
  let data: Record<string, unknown> | undefined;
  if (values.data !== undefined) {
    try {
      data = JSON.parse(values.data) as Record<string, unknown>;
    } catch {
      throw new UsageError('--data must be a JSON object, e.g. --data \'{"plan":"pro"}\'');
    }
  }
  if (values.note !== undefined) data = { ...(data ?? {}), note: values.note };
  if (data !== undefined) body.data = data;
  return body;
}

/** One page of sessions; says on stderr how to ask for the next. */
async function listPage(
  baseUrl: string,
  values: { limit?: string; after?: string; newest: boolean },
): Promise<number> {
  const query = new URLSearchParams({ limit: values.limit ?? '100' });
  if (values.newest) query.set('order', 'newest');
  if (values.after !== undefined) query.set('after', values.after);
  const answer = await call(baseUrl, 'GET', `/sessions?${query}`);
  const next = (answer.body as { next?: unknown }).next;
  if (answer.status === 200 && typeof next === 'string') {
    const newest = values.newest ? ' --newest' : '';
    process.stderr.write(
      `more: stateful session list --limit ${query.get('limit')}${newest} --after ${next}\n`,
    );
  }
  return print(answer);
}

/**
 * Every session, a page of 1,000 at a time, printed as each page arrives in
 * the shape of the whole listing (`{"sessions":[…],"count":N}`): a listing of
 * any size, never held whole in memory.
 */
async function listAll(baseUrl: string, newest: boolean): Promise<number> {
  let after: string | null = null;
  let count = 0;
  process.stdout.write('{\n  "sessions": [');
  do {
    const query = new URLSearchParams({ limit: '1000', order: newest ? 'newest' : 'oldest' });
    if (after !== null) query.set('after', after);
    const answer = await call(baseUrl, 'GET', `/sessions?${query}`);
    if (answer.status !== 200) {
      process.stdout.write('\n');
      return print(answer);
    }
    const page = answer.body as { sessions: unknown[]; next: string | null };
    let text = '';
    for (const session of page.sessions) {
      text += `${count++ === 0 ? '' : ','}\n    ${JSON.stringify(session, null, 2).replace(/\n/g, '\n    ')}`;
    }
    if (!process.stdout.write(text)) await once(process.stdout, 'drain');
    after = page.next;
  } while (after !== null);
  process.stdout.write(`${count === 0 ? '' : '\n  '}],\n  "count": ${count}\n}\n`);
  return 0;
}

async function waitForNewInstance(
  baseUrl: string,
  oldId: string,
  timeoutMs: number,
): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 200));
    try {
      const health = await call(baseUrl, 'GET', '/health');
      const id = (health.body as { container_id?: string }).container_id;
      if (health.status === 200 && id !== undefined && id !== oldId) return true;
    } catch {
      // still down
    }
  }
  return false;
}

/**
 * Asks on a terminal, where a person can answer; anywhere else (a script, a
 * pipe) the command goes ahead, as `--yes` makes it on a terminal.
 */
async function confirm(question: string): Promise<boolean> {
  if (process.stdin.isTTY !== true || process.stderr.isTTY !== true) return true;
  const prompt = createInterface({ input: process.stdin, output: process.stderr });
  try {
    const answer = await prompt.question(`${question} [y/N] `);
    if (/^y(es)?$/i.test(answer.trim())) return true;
    process.stderr.write('Nothing done.\n');
    return false;
  } finally {
    prompt.close();
  }
}

export async function clientCommand(command: string, argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    options: {
      url: { type: 'string' },
      name: { type: 'string' },
      note: { type: 'string' },
      data: { type: 'string' },
      limit: { type: 'string' },
      after: { type: 'string' },
      before: { type: 'string' },
      newest: { type: 'boolean', default: false },
      all: { type: 'boolean', default: false },
      wait: { type: 'boolean', default: false },
      yes: { type: 'boolean', short: 'y', default: false },
    },
    allowPositionals: true,
    strict: true,
  });
  const baseUrl = values.url ?? loadClientConfig().url;
  const id = (index: number) => {
    const value = positionals[index];
    if (value === undefined) throw new UsageError('This command needs a session id.');
    return encodeURIComponent(value);
  };

  switch (command) {
    case 'health':
      return print(await call(baseUrl, 'GET', '/health'));
    case 'state':
      return print(await call(baseUrl, 'GET', '/state'));
    case 'events': {
      const query = new URLSearchParams();
      if (values.limit !== undefined) query.set('limit', values.limit);
      if (values.before !== undefined) query.set('before', values.before);
      const answer = await call(baseUrl, 'GET', `/events${query.size > 0 ? `?${query}` : ''}`);
      const next = (answer.body as { next?: unknown }).next;
      if (answer.status === 200 && typeof next === 'number') {
        process.stderr.write(
          `older: stateful events --limit ${values.limit ?? 50} --before ${next}\n`,
        );
      }
      return print(answer);
    }
    case 'crash': {
      if (!values.yes && !(await confirm(`Crash the service at ${baseUrl}?`))) return 1;
      const before = await call(baseUrl, 'GET', '/health');
      const code = print(await call(baseUrl, 'POST', '/crash'));
      if (code !== 0 || !values.wait) return code;
      const oldId = (before.body as { container_id?: string }).container_id ?? '';
      process.stderr.write('waiting for the service to come back…\n');
      if (!(await waitForNewInstance(baseUrl, oldId, 60_000))) {
        process.stderr.write('the service did not come back within 60 s\n');
        return 1;
      }
      return print(await call(baseUrl, 'GET', '/state'));
    }
    case 'session': {
      const action = positionals[0];
      switch (action) {
        case 'create':
          return print(await call(baseUrl, 'POST', '/sessions', sessionBody(values)));
        case 'list':
          if (values.all) return listAll(baseUrl, values.newest);
          if (values.limit === undefined && values.after === undefined && !values.newest) {
            return print(await call(baseUrl, 'GET', '/sessions'));
          }
          return listPage(baseUrl, values);
        case 'get':
          return print(await call(baseUrl, 'GET', `/sessions/${id(1)}`));
        case 'update':
          // A merge patch: keys of data it does not name are kept (null removes one).
          return print(await call(baseUrl, 'PATCH', `/sessions/${id(1)}`, sessionBody(values)));
        case 'delete':
          if (!values.yes && !(await confirm(`Delete session ${positionals[1] ?? ''}?`))) return 1;
          return print(await call(baseUrl, 'DELETE', `/sessions/${id(1)}`));
        default:
          throw new UsageError('Usage: stateful session create|list|get|update|delete …');
      }
    }
    default:
      throw new UsageError(`Unknown command "${command}".`);
  }
}
