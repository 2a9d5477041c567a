/**
 * The application: the use cases every door shares, over the Store port.
 * Sessions (sessions.ts); the event feed; counting requests; and an
 * instance's life as the counters see it: its start (with any unseen death
 * before it), a `/crash`, a clean stop. HTTP routes call this, never a
 * store's internals.
 */

import { shutdownEvent } from '../domain/event.js';
import { type ExpiryDefaults, NEVER } from '../domain/expiry.js';
import type { Clock } from '../domain/time.js';
import type {
  EventListener,
  EventTail,
  InstanceStart,
  StorageUsage,
  Store,
  StoreOverview,
} from '../store/store.js';
import type { BackgroundHealth } from './health.js';
import { SessionService } from './sessions.js';

export interface ServiceOptions {
  /** SESSION_MAX_NODES. */
  sessionMaxNodes: number;
  /** performance.now() when the process started (uptime counts from it). */
  startedAt?: number;
  /** What the store's background work reported (see health.ts). */
  background?: BackgroundHealth;
  /** Now, in epoch milliseconds: the store's clock too (tests move it). Date.now by default. */
  clock?: Clock;
  /** What a create gives a session that asks for no expiry (SESSION_TTL, SESSION_IDLE_TIMEOUT). */
  expiry?: ExpiryDefaults;
}

/** Whether the service works as it should; `problems` says why not, in words. */
export interface ServiceHealth {
  status: 'ok' | 'degraded';
  problems: string[];
}

/** GET /state's facts: this instance's next to the persisted counters. */
export interface ServiceState extends StoreOverview, ServiceHealth {
  instanceId: string;
  uptimeSeconds: number;
  requestsThisInstance: number;
}

export class StatefulService {
  readonly sessions: SessionService;
  private readonly startedAt: number;
  private requests = 0;
  private crashing: Promise<number> | null = null;
  private readonly background: BackgroundHealth | undefined;

  constructor(
    private readonly store: Store,
    options: ServiceOptions,
  ) {
    this.sessions = new SessionService(store, {
      maxNodes: options.sessionMaxNodes,
      clock: options.clock ?? Date.now,
      expiry: options.expiry ?? NEVER,
    });
    this.startedAt = options.startedAt ?? performance.now();
    this.background = options.background;
  }

  get instanceId(): string {
    return this.store.instanceId;
  }

  /** Seconds since the process started, to a tenth. */
  uptimeSeconds(): number {
    return Math.round((performance.now() - this.startedAt) / 100) / 10;
  }

  /** Degraded while background work keeps failing or the store reports a problem. */
  health(): ServiceHealth {
    const problems = [
      ...(this.background?.problems() ?? []),
      ...(this.store.inProcess?.problems() ?? []),
    ];
    return { status: problems.length === 0 ? 'ok' : 'degraded', problems };
  }

  // Requests

  /** Counts a request in requests_this_instance and total_requests. */
  countRequest(): void {
    this.requests++;
    this.store.countRequest();
  }

  requestsThisInstance(): number {
    return this.requests;
  }

  // The counters

  async state(): Promise<ServiceState> {
    const overview = await this.store.overview();
    return {
      ...overview,
      ...this.health(),
      instanceId: this.instanceId,
      uptimeSeconds: this.uptimeSeconds(),
      requestsThisInstance: this.requests,
    };
  }

  /** The storage budget's use; null when the store has none. */
  storageUsage(): StorageUsage | null {
    return this.store.inProcess?.storageUsage() ?? null;
  }

  // Events

  /** Every event from now on, in log order (see Store.onEvent); returns the unsubscribe. */
  onEvent(listener: EventListener): () => void {
    return this.store.onEvent(listener);
  }

  async eventTail(limit: number): Promise<EventTail> {
    return this.store.eventTail(limit);
  }

  /** Positions `from` to `to` of the log, oldest first (see Store.eventRange). */
  async eventRange(from: number, to: number): Promise<EventTail> {
    return this.store.eventRange(from, to);
  }

  async eventCount(): Promise<number> {
    return this.store.eventCount();
  }

  // An instance's life

  /** Counts this start and any unseen death before it (see Store.startInstance). */
  start(): Promise<InstanceStart> {
    return this.store.startInstance();
  }

  /** `/crash`: counts the crash durably, once however often it is asked; the new crash_count. */
  crash(): Promise<number> {
    this.crashing ??= this.store.recordCrash();
    return this.crashing;
  }

  /** A clean stop: logs `shutdown` with the reason and the uptime, and marks the instance stopped. */
  stop(reason: string): Promise<void> {
    return this.store.stopInstance(
      shutdownEvent(this.instanceId, { reason, uptimeSeconds: this.uptimeSeconds() }),
    );
  }
}
