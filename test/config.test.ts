import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { getHeapStatistics } from 'node:v8';
import { ConfigError, loadServiceConfig, oldSpaceMiB } from '../src/config.js';

describe('configuration', () => {
  it('bounds every client-driven resource by default', () => {
    const config = loadServiceConfig({});
    assert.deepEqual(config.allowedHosts, ['localhost', '127.0.0.1', '::1']);
    assert.equal(config.limits.maxStreams, 100);
    assert.equal(config.limits.maxPipelinedRequests, 8);
    assert.equal(config.limits.pageMaxBytes, 4 * 1024 * 1024);
    assert.equal(loadServiceConfig({ PAGE_MAX_KB: '64' }).limits.pageMaxBytes, 64 * 1024);
    assert.throws(() => loadServiceConfig({ PAGE_MAX_KB: '0' }), /PAGE_MAX_KB must be/);
    assert.equal(config.storage.sessionMaxNodes, 10_000);
    assert.equal(config.storage.budgetBytes, Math.floor(oldSpaceMiB() / 4) * 1024 * 1024);
  });

  it('sizes the default budget by the old generation: --max-old-space-size when given, else the heap limit', () => {
    const heapMiB = Math.floor(getHeapStatistics().heap_size_limit / (1024 * 1024));
    assert.equal(oldSpaceMiB('', []), heapMiB);
    assert.equal(oldSpaceMiB('--max-old-space-size=128', []), 128);
    assert.equal(oldSpaceMiB('--enable-source-maps --max_old_space_size=512', []), 512);
    assert.equal(
      oldSpaceMiB('--max-old-space-size=128', ['--max-old-space-size=256']),
      256,
      'the command line comes after',
    );
    assert.equal(oldSpaceMiB(undefined, ['--max-old-space-size=96']), 96);
  });

  it('reads ALLOWED_HOSTS as names in any case, brackets optional, or * for any', () => {
    assert.deepEqual(loadServiceConfig({ ALLOWED_HOSTS: ' Example.COM, [::1] ,lb' }).allowedHosts, [
      'example.com',
      '::1',
      'lb',
    ]);
    assert.equal(loadServiceConfig({ ALLOWED_HOSTS: '*' }).allowedHosts, null);
    assert.throws(() => loadServiceConfig({ ALLOWED_HOSTS: 'a b' }), ConfigError);
    assert.throws(() => loadServiceConfig({ ALLOWED_HOSTS: ',' }), /names no host/);
  });

  it('reads TRUST_PROXY as addresses, CIDR blocks and range names, and trusts no proxy by default', () => {
    assert.deepEqual(loadServiceConfig({}).trustProxy, []);
    assert.deepEqual(
      loadServiceConfig({ TRUST_PROXY: ' 10.1.2.3, fd00::/8 ,loopback' }).trustProxy,
      [
        { address: '10.1.2.3', prefix: 32, type: 'ipv4' },
        { address: 'fd00::', prefix: 8, type: 'ipv6' },
        { address: '127.0.0.0', prefix: 8, type: 'ipv4' },
        { address: '::1', prefix: 128, type: 'ipv6' },
      ],
    );
    for (const bad of ['10.0.0.0/33', 'proxy.local', '10.0.0.0/x', '::1/129', 'toString']) {
      assert.throws(() => loadServiceConfig({ TRUST_PROXY: bad }), /TRUST_PROXY must list/, bad);
    }
  });

  it('gives one client address half the unread answers by default, a share it cannot exceed the bound with', () => {
    const limits = loadServiceConfig({ UNREAD_ANSWERS_MB: '64' }).limits;
    assert.equal(limits.unreadAnswersPerAddressBytes, 32 * 1024 * 1024);
    const off = loadServiceConfig({ UNREAD_ANSWERS_PER_ADDRESS_MB: '0' }).limits;
    assert.equal(off.unreadAnswersPerAddressBytes, 0);
    assert.throws(
      () => loadServiceConfig({ UNREAD_ANSWERS_MB: '16', UNREAD_ANSWERS_PER_ADDRESS_MB: '17' }),
      /UNREAD_ANSWERS_PER_ADDRESS_MB must be an integer from 0 to 16/,
    );
  });

  it('keeps streams below the connection limit, so they can never take every connection', () => {
    assert.equal(loadServiceConfig({ MAX_CONNECTIONS: '10' }).limits.maxStreams, 5);
    assert.throws(
      () => loadServiceConfig({ MAX_CONNECTIONS: '10', MAX_STREAMS: '10' }),
      /MAX_STREAMS \(10\) must be below MAX_CONNECTIONS \(10\)/,
    );
    assert.equal(loadServiceConfig({ MAX_STREAMS: '0' }).limits.maxStreams, 0);
  });

  it('expires no session unless asked; reads SESSION_TTL and SESSION_IDLE_TIMEOUT as durations', () => {
    assert.deepEqual(loadServiceConfig({}).expiry, {
      ttlSeconds: null,
      idleSeconds: null,
      touch: 'writes',
    });
    assert.deepEqual(
      loadServiceConfig({ SESSION_TTL: '1h', SESSION_IDLE_TIMEOUT: '900', SESSION_TOUCH: 'reads' })
        .expiry,
      { ttlSeconds: 3600, idleSeconds: 900, touch: 'reads' },
    );
    assert.throws(
      () => loadServiceConfig({ SESSION_TTL: '1w' }),
      /SESSION_TTL must be a duration such as 3600, 90s, 15m, 1h or 30d/,
    );
    assert.throws(
      () => loadServiceConfig({ SESSION_TOUCH: 'always' }),
      /SESSION_TOUCH must be "writes" or "reads"/,
    );
  });

  it('takes the storage budget in MiB and refuses what is not an integer', () => {
    assert.equal(
      loadServiceConfig({ STORAGE_BUDGET_MB: '64' }).storage.budgetBytes,
      64 * 1024 * 1024,
    );
    assert.throws(() => loadServiceConfig({ STORAGE_BUDGET_MB: '1.5' }), /STORAGE_BUDGET_MB/);
    assert.throws(() => loadServiceConfig({ SESSION_MAX_NODES: '0' }), /SESSION_MAX_NODES/);
  });

  it('bounds the checkpoint backlog: 8,000 sessions by default, at least 100', () => {
    assert.equal(loadServiceConfig({}).storage.checkpointBacklog, 8000);
    assert.equal(loadServiceConfig({ CHECKPOINT_BACKLOG: '500' }).storage.checkpointBacklog, 500);
    assert.throws(() => loadServiceConfig({ CHECKPOINT_BACKLOG: '10' }), /CHECKPOINT_BACKLOG/);
  });

  it('bounds the spare files: 8,192 by default, 0 turns them off', () => {
    assert.equal(loadServiceConfig({}).storage.spareFiles, 8192);
    assert.equal(loadServiceConfig({ SPARE_FILES: '0' }).storage.spareFiles, 0);
    assert.throws(() => loadServiceConfig({ SPARE_FILES: '-1' }), /SPARE_FILES/);
  });
});
