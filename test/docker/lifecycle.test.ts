/**
 * The spec's lifecycle suite against a real Docker engine: the container is
 * disposable, the named volume is not. Runs the project's Makefile targets
 * under names of its own and waits on health status, never on fixed sleeps.
 */
import assert from 'node:assert/strict';
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { freePort } from '../../tools/service-process.js';
import { writeOriginalDataDir } from '../helpers/original-data-dir.js';
import {
  appContainer,
  compose,
  type Deployment,
  deploymentEnv,
  destroyDeployment,
  freshDeployment,
  http,
  inspect,
  killServiceProcess,
  lastJson,
  make,
  removeDeployment,
  sh,
  waitHealthy,
} from './harness.js';

const TIMEOUT = { timeout: 10 * 60_000 };
const NAME = `O'Brien "the" Ünïcødé`;

interface Session {
  id: string;
  name: string;
  access_count: number;
}

describe('the container lifecycle', () => {
  let app: Deployment;
  let created: Session;
  let backupDir: string;

  before(async () => {
    app = await freshDeployment('lifecycle');
    backupDir = app.backupDir;
  });

  after(() => destroyDeployment(app));

  const state = async () => (await http(app, '/state')).json;

  it('builds the image and starts the service, healthy', TIMEOUT, async () => {
    await make(app, 'build');
    const up = await make(app, 'up');
    assert.match(up.stdout, new RegExp(`http://localhost:${app.port}`));
    assert.equal(await inspect(await appContainer(app), '{{.State.Health.Status}}'), 'healthy');
  });

  it('answers /health with its container identity', async () => {
    const health = await http(app, '/health');
    assert.equal(health.status, 200);
    assert.equal(health.json.status, 'ok');
    assert.match(String(health.json.container_id), /^[0-9a-f]{8}$/);
  });

  it('serves the dashboard and /metrics from the image', async () => {
    const base = `http://127.0.0.1:${app.port}`;
    const page = await fetch(`${base}/`);
    assert.equal(page.status, 200);
    assert.match(page.headers.get('content-security-policy') ?? '', /default-src 'none'/);
    assert.match(await page.text(), /dashboard\/app\.js/);
    assert.equal((await fetch(`${base}/dashboard/app.js`)).status, 200);
    const metrics = await (await fetch(`${base}/metrics`)).text();
    assert.match(metrics, /^stateful_startup_count \d+$/m);
  });

  it('runs as the unprivileged node user on a read-only root', async () => {
    const container = await appContainer(app);
    assert.equal(await inspect(container, '{{.Config.User}}'), 'node');
    assert.equal(await inspect(container, '{{.HostConfig.ReadonlyRootfs}}'), 'true');
    assert.equal(await inspect(container, '{{.HostConfig.RestartPolicy.Name}}'), 'unless-stopped');
  });

  it('is safe on a shared host as shipped: loopback only, memory and process limits, settings from .env', async () => {
    const container = await appContainer(app);
    const bindings = JSON.parse(await inspect(container, '{{json .HostConfig.PortBindings}}'));
    assert.deepEqual(bindings['8080/tcp'], [{ HostIp: '127.0.0.1', HostPort: String(app.port) }]);
    assert.equal(await inspect(container, '{{.HostConfig.Memory}}'), String(2 * 1024 ** 3));
    assert.equal(await inspect(container, '{{json .HostConfig.PidsLimit}}'), '256');
    const env = JSON.parse(await inspect(container, '{{json .Config.Env}}')) as string[];
    const names = env.map((entry) => entry.slice(0, entry.indexOf('=')));
    for (const name of ['ADMIN_TOKEN', 'CRASH_ENDPOINT', 'MAX_CONNECTIONS', 'STORAGE_BUDGET_MB']) {
      assert.ok(names.includes(name), `${name} is passed through: ${names.join(' ')}`);
    }
  });

  it('has counted at least one start', async () => {
    assert.ok(Number((await state()).startup_count) >= 1);
  });

  it('creates (make session-create, any text), lists, gets and updates a session', async () => {
    const out = await make(app, 'session-create', { NAME, NOTE: `it's "quoted"` });
    created = lastJson(out.stdout) as unknown as Session;
    assert.equal(created.name, NAME);
    const list = lastJson((await make(app, 'session-list')).stdout);
    assert.equal(list.count, 1);
    const got = lastJson((await make(app, 'session-get', { ID: created.id })).stdout);
    assert.equal(got.id, created.id);
    const updated = await http(app, `/sessions/${created.id}`, 'PUT', { data: { step: 2 } });
    assert.equal(updated.json.access_count, created.access_count + 1);
  });

  it(
    'keeps the session across `restart app`, with a new container_id and startup_count + 1',
    TIMEOUT,
    async () => {
      const before = await state();
      await make(app, 'restart');
      const after = await state();
      assert.notEqual(after.container_id, before.container_id);
      assert.equal(after.startup_count, Number(before.startup_count) + 1);
      assert.equal(after.crash_count, before.crash_count, 'a restart is a clean stop');
      assert.equal((await http(app, `/sessions/${created.id}`)).json.name, NAME);
    },
  );

  it(
    'comes back by itself after /crash (make crash), sessions intact, crash_count + 1',
    TIMEOUT,
    async () => {
      const before = await state();
      const out = await make(app, 'crash');
      const after = lastJson(out.stdout);
      assert.equal(after.crash_count, Number(before.crash_count) + 1);
      assert.notEqual(after.container_id, before.container_id);
      assert.equal(after.live_sessions, 1);
      assert.equal((await http(app, `/sessions/${created.id}`)).status, 200);
    },
  );

  it(
    'counts a SIGKILL of the service process from the host as one crash, after Docker restarts it',
    TIMEOUT,
    async () => {
      const container = await appContainer(app);
      const before = await state();
      const restarts = await killServiceProcess(container);
      await waitHealthy(container, restarts + 1);
      const after = await state();
      assert.equal(after.crash_count, Number(before.crash_count) + 1);
      const events = (await http(app, '/events?limit=2')).json.events as {
        event: string;
        dead_container?: string;
      }[];
      assert.equal(events[0]?.event, 'crash_detected');
      assert.equal(events[0]?.dead_container, before.container_id);
    },
  );

  it('stops and starts cleanly: a shutdown event and no crash', TIMEOUT, async () => {
    const before = await state();
    await compose(app, 'stop', 'app');
    await compose(app, 'start', 'app');
    await waitHealthy(await appContainer(app));
    const after = await state();
    assert.equal(after.crash_count, before.crash_count);
    assert.equal(after.startup_count, Number(before.startup_count) + 1);
    const events = (await http(app, '/events?limit=2')).json.events as { event: string }[];
    assert.deepEqual(
      events.map((event) => event.event),
      ['shutdown', 'startup'],
    );
  });

  it('keeps startup events in the event log', async () => {
    const log = lastJson((await make(app, 'events', { LIMIT: '100' })).stdout);
    const events = log.events as { event: string }[];
    assert.ok(events.filter((event) => event.event === 'startup').length >= 4);
  });

  it(
    'survives an image upgrade: rebuild, down, up: new image, same volume, startup_count + 1',
    TIMEOUT,
    async () => {
      const before = await state();
      const oldImage = await inspect(await appContainer(app), '{{.Image}}');
      const revision = { BUILD_REVISION: `upgrade-${Date.now()}` };
      await sh('make', ['--no-print-directory', 'build'], deploymentEnv(app, revision));
      await make(app, 'down');
      await make(app, 'up');
      const newImage = await inspect(await appContainer(app), '{{.Image}}');
      assert.notEqual(newImage, oldImage);
      const after = await state();
      assert.equal(after.startup_count, Number(before.startup_count) + 1);
      assert.equal((await http(app, `/sessions/${created.id}`)).json.name, NAME);
    },
  );

  it('lets the inspector read the volume with the app removed', TIMEOUT, async () => {
    await make(app, 'down');
    const out = await make(app, 'inspect');
    assert.match(out.stdout, /PERSISTENT STATS/);
    assert.match(out.stdout, new RegExp(created.id));
    assert.match(out.stdout, /Total: 1/);
    await make(app, 'up');
  });

  it('deletes a session', async () => {
    const extra = lastJson((await make(app, 'session-create', { NAME: 'short-lived' })).stdout);
    const out = await make(app, 'session-delete', { ID: String(extra.id) });
    assert.match(out.stdout, /"status": "deleted"/);
    assert.equal((await http(app, `/sessions/${extra.id}`)).status, 404);
  });

  it('keeps its data in the named volume', async () => {
    const { stdout } = await sh('docker', ['volume', 'inspect', '-f', '{{.Name}}', app.volume]);
    assert.equal(stdout.trim(), app.volume);
    const mounts = await inspect(
      await appContainer(app),
      '{{range .Mounts}}{{.Name}}:{{.Destination}} {{end}}',
    );
    assert.match(mounts, new RegExp(`${app.volume}:/data`));
  });

  it('backs up, resets and restores: every session comes back', TIMEOUT, async () => {
    const sessionsBefore = (await http(app, '/sessions')).json.sessions;
    await make(app, 'backup');
    const [file] = await readdir(backupDir);
    assert.ok(file?.endsWith('.tar.gz'));
    await make(app, 'reset');
    await assert.rejects(sh('docker', ['volume', 'inspect', app.volume]));
    await make(app, 'restore', { FILE: join(backupDir, file ?? '') });
    await assert.rejects(
      make(app, 'restore', { FILE: join(backupDir, file ?? '') }),
      /refusing to overwrite/,
      'a non-empty volume is not overwritten without FORCE=1',
    );
    await make(app, 'up');
    assert.deepEqual((await http(app, '/sessions')).json.sessions, sessionsBefore);
  });

  it(
    'takes over a volume the original wrote as root: sessions kept, counters continuing',
    TIMEOUT,
    async () => {
      const original: Deployment = {
        ...app,
        project: 'stateful-lifecycle-test-original',
        volume: 'stateful-lifecycle-test-original-data',
        network: 'stateful-lifecycle-test-original-net',
        port: await freePort(),
      };
      await removeDeployment(original);
      try {
        const source = await mkdtemp(join(tmpdir(), 'stateful-original-'));
        await writeOriginalDataDir(source);
        await writeFile(join(source, 'events.jsonl'), '', { flag: 'a' });
        // As the original's container did: root writes the files into the volume.
        await sh('docker', ['volume', 'create', original.volume]);
        await sh('docker', [
          'run',
          '--rm',
          '--user',
          'root',
          '--network',
          'none',
          '-v',
          `${source}:/source:ro`,
          '-v',
          `${original.volume}:/data`,
          `${app.image}:latest`,
          'sh',
          '-c',
          'cp -r /source/. /data/ && chown -R 0:0 /data && chmod -R go-w /data',
        ]);
        await rm(source, { recursive: true, force: true });

        await make(original, 'up');
        const taken = (await http(original, '/state')).json;
        assert.equal(taken.startup_count, 4);
        assert.equal(taken.crash_count, 1);
        assert.equal(taken.live_sessions, 2);
        const names = ((await http(original, '/sessions')).json.sessions as Session[]).map(
          (s) => s.name,
        );
        assert.deepEqual(names, ['alice', 'bob']);
        const created = await http(original, '/sessions', 'POST', { name: 'after the upgrade' });
        assert.equal(created.status, 201, 'the non-root service can write the taken-over volume');
        const owners = await sh('docker', [
          'run',
          '--rm',
          '--network',
          'none',
          '-v',
          `${original.volume}:/data:ro`,
          `${app.image}:latest`,
          'sh',
          '-c',
          'find /data ! -user node | wc -l',
        ]);
        assert.equal(owners.stdout.trim(), '0');
      } finally {
        await removeDeployment(original);
      }
    },
  );
});
