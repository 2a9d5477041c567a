// @ts-check
// The service's API as the dashboard uses it, with the answers' shapes.
import { byId } from './dom.js';

/**
 * @typedef {import('../src/domain/schemas.js').JsonObject} JsonObject
 * @typedef {import('../src/domain/schemas.js').Session} Session
 * @typedef {{ container_id: string, uptime_seconds: number, requests_this_instance: number,
 *   startup_count: number, crash_count: number, total_sessions: number, total_requests: number,
 *   live_sessions: number, live_replicas: number, expired_sessions: number, status: string, problems: string[] }} State
 * @typedef {{ ts: number, time: string, event: string, container: string,
 *   [key: string]: unknown }} ServiceEvent
 * @typedef {{ error?: string, message?: string, sessions?: Session[], next?: string | null,
 *   scanned?: number }
 *   & Partial<State>
 *   & Partial<Session>} AnswerBody
 * @typedef {{ status: number, ok: boolean, json: AnswerBody | null }} Answer
 */

/**
 * One request to the service; the admin token goes only to /crash. Aborting
 * `signal` drops the request (a newer one took its place).
 * @param {string} method
 * @param {string} path
 * @param {unknown} [body]
 * @param {AbortSignal} [signal]
 * @returns {Promise<Answer>}
 */
export async function api(method, path, body, signal) {
  /** @type {Record<string, string>} */
  const headers = {};
  if (body !== undefined) {
    headers['content-type'] =
      method === 'PATCH' ? 'application/merge-patch+json' : 'application/json';
  }
  const token = byId('token', HTMLInputElement).value;
  if (path === '/crash' && token !== '') headers.authorization = `Bearer ${token}`;
  const response = await fetch(path, {
    method,
    headers,
    cache: 'no-store',
    ...(signal === undefined ? {} : { signal }),
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  /** @type {AnswerBody | null} */
  let json = null;
  try {
    json = await response.json();
  } catch {
    json = null;
  }
  return { status: response.status, ok: response.ok, json };
}

/**
 * Shows what the service said went wrong.
 * @param {Answer} answer
 */
export function showError(answer) {
  const el = byId('form-error', HTMLElement);
  el.textContent = answer.json?.message ?? `The service answered ${answer.status}.`;
  el.hidden = false;
}
