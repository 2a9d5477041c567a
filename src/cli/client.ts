/**
 * The client for people: `stateful session …`, `state`, `events`, `health`,
 * `crash`. Builds bodies with JSON.stringify (quotes, spaces and any Unicode
 * in names and notes just work), prints answers as indented JSON, and says
 * plainly when the service cannot be reached.
 */
import { parseArgs } from 'node:util';
import { loadClientConfig } from '../config.js';

export class UsageError extends Error {}

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
      headers: body === undefined ? {} : { 'content-type': 'application/json' },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      signal: AbortSignal.timeout(30_000),
    });
  } catch (error) {
    const cause = (error as { cause?: { code?: string } }).cause?.code ?? (error as Error).message;
    throw new Error(
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

export async function clientCommand(command: string, argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    options: {
      url: { type: 'string' },
      name: { type: 'string' },
      note: { type: 'string' },
      data: { type: 'string' },
      limit: { type: 'string' },
      wait: { type: 'boolean', default: false },
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
      const query = values.limit === undefined ? '' : `?limit=${encodeURIComponent(values.limit)}`;
      return print(await call(baseUrl, 'GET', `/events${query}`));
    }
    case 'crash': {
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
          return print(await call(baseUrl, 'GET', '/sessions'));
        case 'get':
          return print(await call(baseUrl, 'GET', `/sessions/${id(1)}`));
        case 'update':
          return print(await call(baseUrl, 'PUT', `/sessions/${id(1)}`, sessionBody(values)));
        case 'delete':
          return print(await call(baseUrl, 'DELETE', `/sessions/${id(1)}`));
        default:
          throw new UsageError('Usage: stateful session create|list|get|update|delete …');
      }
    }
    default:
      throw new UsageError(`Unknown command "${command}".`);
  }
}
