/**
 * Instance identity: every process start gets a new short id, the first eight
 * hex digits of a random UUID, as the original did. It is what proves, after a
 * restart, that a new process is answering while the data stayed the same.
 */
import { randomUUID } from 'node:crypto';

export function newInstanceId(): string {
  return randomUUID().slice(0, 8);
}
