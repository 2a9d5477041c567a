/**
 * The compose profile `cluster` against a real Docker engine: PostgreSQL with
 * its own named volume, three replicas and HAProxy on one port. The file
 * store's volume moves into the database with one command; load is spread
 * across the replicas; one replica's process is SIGKILLed mid-load and Docker
 * brings it back; nothing acknowledged is lost, the death is counted once; the
 * data outlives the containers; the inspector reads the database with every
 * replica stopped. Names of its own, traffic only to 127.0.0.1.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  appContainer,
  compose,
  type Deployment,
  destroyDeployment,
  freshDeployment,
  http,
  inspect,
  killServiceProcess,
  lastJson,
  make,
  waitHealthy,
} from './harness.js';

const TIMEOUT = { timeout: 10 * 60_000 };
const REPLICAS = ['app-1', 'app-2', 'app-3'];

interface ServiceEvent {
  event: string;
  container: string;
  dead_container?: string;
}

/** Polls until `check` returns a value (not undefined), or fails after `ms`. */
async function eventually<T>(what: string, ms: number, check: () => Promise<T | undefined>) {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await check().catch(() => undefined);
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`gave up waiting for ${what} after ${ms} ms`);
    await sleep(250);
  }
}

describe('the cluster profile: PostgreSQL, three replicas, one load balancer', () => {
  let cluster: Deployment;
  const migrated: string[] = [];

  before(async () => {
    cluster = await freshDeployment('cluster');
  });

  after(() => destroyDeployment(cluster));

  const state = async () => (await http(cluster, '/state')).json;
  const events = async (limit: number) =>
    (await http(cluster, `/events?limit=${limit}`)).json.events as ServiceEvent[];
  /** /state from one replica itself, not through the balancer. */
  const replicaState = async (service: string) =>
    lastJson(
      (
        await compose(
          cluster,
          '--profile',
          'cluster',
          'exec',
          '-T',
          service,
          'node',
          'dist/src/cli/main.js',
          'state',
          '--json',
          '--url',
          'http://127.0.0.1:8080',
        )
      ).stdout,
    );

  it(
    'moves the file store volume into PostgreSQL with one command (make cluster-migrate)',
    TIMEOUT,
    async () => {
      await make(cluster, 'build');
      await make(cluster, 'up');
      for (const name of ['before the move', 'also before']) {
        const created = await http(cluster, '/sessions', 'POST', { name });
        assert.equal(created.status, 201);
        migrated.push(String(created.json.id));
      }
      assert.equal(
        (await http(cluster, `/sessions/${migrated[0]}`, 'PUT', { data: { n: 1 } })).status,
        200,
      );
      const fileState = await state();

      const out = await make(cluster, 'cluster-migrate');
      const report = lastJson(out.stdout);
      assert.equal(report.sessions, 2);
      assert.equal((report.stats as Record<string, number>).startup_count, fileState.startup_count);
      // The app was stopped for the move (the volume's lock would refuse otherwise).
      assert.equal(await inspect(await appContainer(cluster), '{{.State.Running}}'), 'false');
      // Safe to re-run: nothing new to add.
      const again = lastJson((await make(cluster, 'cluster-migrate')).stdout);
      assert.equal(again.eventsAdded, 0);
      assert.equal(again.sessions, 2);
    },
  );

  it(
    'starts three healthy replicas behind the load balancer, on the same port (make cluster-up)',
    TIMEOUT,
    async () => {
      const up = await make(cluster, 'cluster-up');
      assert.match(up.stdout, new RegExp(`http://localhost:${cluster.port}`));
      for (const service of REPLICAS) {
        const container = await appContainer(cluster, service);
        assert.equal(await inspect(container, '{{.State.Health.Status}}'), 'healthy');
        assert.equal(await inspect(container, '{{.HostConfig.ReadonlyRootfs}}'), 'true');
      }
      const answered = new Set<string>();
      let live = 0;
      for (let i = 0; i < 12; i++) {
        const json = await state();
        answered.add(String(json.container_id));
        live = Number(json.live_replicas);
      }
      assert.equal(answered.size, 3, `requests reached ${[...answered].join(', ')}`);
      assert.equal(live, 3);
      // The migrated sessions, served by every replica.
      for (let i = 0; i < 3; i++) {
        const got = await http(cluster, `/sessions/${migrated[0]}`);
        assert.equal(got.status, 200);
        assert.equal(got.json.access_count, 1);
      }
      const cli = lastJson((await make(cluster, 'cluster-state')).stdout);
      assert.equal(cli.live_replicas, 3);
    },
  );

  it(
    'loses no acknowledged write when one replica is SIGKILLed mid-load, and counts it once',
    TIMEOUT,
    async () => {
      const before = await state();
      const victim = await appContainer(cluster, 'app-2');
      const victimId = String((await replicaState('app-2')).container_id);

      const acknowledged = new Map<string, number>(); // session id → acknowledged updates
      let failures = 0;
      let stop = false;
      const worker = async () => {
        const own: string[] = [];
        while (!stop) {
          try {
            if (own.length === 0 || Math.random() < 0.3) {
              const created = await http(cluster, '/sessions', 'POST', { name: 'under load' });
              if (created.status !== 201) throw new Error(String(created.status));
              own.push(String(created.json.id));
              acknowledged.set(String(created.json.id), 0);
            } else {
              const id = own[Math.floor(Math.random() * own.length)] as string;
              const updated = await http(cluster, `/sessions/${id}`, 'PUT', {
                data: { at: Date.now() },
              });
              if (updated.status !== 200) throw new Error(String(updated.status));
              acknowledged.set(id, (acknowledged.get(id) ?? 0) + 1);
            }
          } catch {
            failures++; // not acknowledged: it may or may not have happened
          }
          // Steady load, not a flood: the health checks that tell Docker the
          // replica is back share these two CPUs.
          await sleep(10);
        }
      };
      const load = Promise.all([worker(), worker(), worker(), worker()]);
      try {
        await sleep(1500);
        const restarts = await killServiceProcess(victim);
        await waitHealthy(victim, restarts + 1); // Docker's restart policy brings it back
        await sleep(1500);
      } finally {
        stop = true;
        await load;
      }

      assert.ok(acknowledged.size > 10, `only ${acknowledged.size} sessions were created`);
      for (const [id, updates] of acknowledged) {
        const got = await http(cluster, `/sessions/${id}`);
        assert.equal(got.status, 200, `acknowledged session ${id} is missing`);
        // At least: an update that failed on the way back may have committed.
        assert.ok(
          Number(got.json.access_count) >= updates,
          `session ${id} lost an acknowledged update (${got.json.access_count} < ${updates})`,
        );
      }

      // Another replica finds the dead one's lease run out and counts it, once.
      const crashed = await eventually('the crash to be counted', 60_000, async () => {
        const json = await state();
        return Number(json.crash_count) > Number(before.crash_count) ? json : undefined;
      });
      assert.equal(crashed.crash_count, Number(before.crash_count) + 1);
      await sleep(12_000); // two more leases: nobody counts it again
      const settled = await state();
      assert.equal(settled.crash_count, Number(before.crash_count) + 1);
      // The whole recent log: the load goes on after the detection, and can
      // log more than a few hundred events before it stops.
      const detected = (await events(10_000)).filter(
        (event) => event.event === 'crash_detected' && event.dead_container === victimId,
      );
      assert.equal(detected.length, 1);
      assert.notEqual(detected[0]?.container, victimId);

      // The counters add up: one more start (the restarted replica), every
      // session counted, all three live again.
      assert.equal(settled.startup_count, Number(before.startup_count) + 1);
      const listed = (await http(cluster, '/sessions')).json;
      assert.equal(settled.live_sessions, listed.count);
      assert.ok(
        Number(settled.total_sessions) >= Number(before.total_sessions) + acknowledged.size,
      );
      assert.equal(settled.live_replicas, 3);
      console.log(
        `cluster under SIGKILL: ${acknowledged.size} sessions acknowledged, ${failures} requests failed, none lost`,
      );
    },
  );

  it(
    'keeps everything in the database volume across cluster-down and cluster-up',
    TIMEOUT,
    async () => {
      const before = await state();
      await make(cluster, 'cluster-down');
      await make(cluster, 'cluster-up');
      const after = await state();
      assert.equal(after.startup_count, Number(before.startup_count) + 3);
      assert.equal(after.crash_count, before.crash_count, 'clean stops are not crashes');
      assert.equal(after.live_sessions, before.live_sessions);
      assert.equal((await http(cluster, `/sessions/${migrated[1]}`)).json.name, 'also before');
      const shutdowns = (await events(50)).filter((event) => event.event === 'shutdown');
      assert.ok(shutdowns.length >= 3);
    },
  );

  it(
    'inspects the database with every replica stopped (make cluster-inspect)',
    TIMEOUT,
    async () => {
      const expected = (await state()).live_sessions;
      await make(cluster, 'cluster-down');
      const report = (await make(cluster, 'cluster-inspect')).stdout;
      assert.match(report, new RegExp(`Total: ${expected}\\b`));
      assert.match(report, /REPLICAS/);
      assert.doesNotMatch(report, /\brunning\b/, 'every replica stopped');
      assert.match(report, /also before/);
    },
  );
});
