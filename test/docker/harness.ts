/**
 * Drives the project's Makefile and Docker for the lifecycle suite, under
 * names of its own (project, volume, network, image, port), so it never
 * touches a real deployment's data and can clean up exactly what it made.
 * Traffic goes only to the published port on 127.0.0.1.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { freePort } from '../../tools/service-process.js';

const run = promisify(execFile);
export const PROJECT_ROOT = fileURLToPath(new URL('../../../', import.meta.url));

export interface Deployment {
  project: string;
  volume: string;
  network: string;
  image: string;
  port: number;
  backupDir: string;
}

/**
 * A deployment under names of its own (`stateful-<name>-test…`), a free port
 * and a temp backup directory, with whatever a run that died half-way left
 * under those names removed first.
 */
export async function freshDeployment(name: string): Promise<Deployment> {
  const prefix = `stateful-${name}-test`;
  const deployment = {
    project: prefix,
    volume: `${prefix}-data`,
    network: `${prefix}-net`,
    image: `${prefix}-app`,
    port: await freePort(),
    backupDir: await mkdtemp(join(tmpdir(), `${prefix}-backups-`)),
  };
  await removeDeployment(deployment);
  return deployment;
}

/** Removes a deployment, its image and its backup directory. */
export async function destroyDeployment(deployment: Deployment): Promise<void> {
  await removeDeployment(deployment);
  await sh('docker', ['rmi', '-f', `${deployment.image}:latest`]).catch(() => undefined);
  await rm(deployment.backupDir, { recursive: true, force: true });
}

/** The cluster profile's database volume, named after the deployment's. */
export function postgresVolume(deployment: Deployment): string {
  return `${deployment.volume}-pg`;
}

export function deploymentEnv(deployment: Deployment, extra: Record<string, string> = {}) {
  return {
    ...process.env,
    COMPOSE_PROJECT: deployment.project,
    VOLUME_NAME: deployment.volume,
    PG_VOLUME_NAME: postgresVolume(deployment),
    NETWORK_NAME: deployment.network,
    IMAGE_NAME: deployment.image,
    APP_PORT: String(deployment.port),
    BACKUP_DIR: deployment.backupDir,
    CLI_FLAGS: '--json', // the client's answers as the API's JSON, to parse
    ...extra,
  };
}

export async function sh(
  command: string,
  args: string[],
  env: NodeJS.ProcessEnv = process.env,
): Promise<{ stdout: string; stderr: string }> {
  try {
    return await run(command, args, {
      cwd: PROJECT_ROOT,
      env,
      maxBuffer: 64 * 1024 * 1024,
      timeout: 15 * 60_000,
    });
  } catch (error) {
    const failure = error as Error & { stdout?: string; stderr?: string };
    throw new Error(
      `${command} ${args.join(' ')} failed: ${failure.message}\n${failure.stdout ?? ''}\n${failure.stderr ?? ''}`,
    );
  }
}

export function make(
  deployment: Deployment,
  target: string,
  variables: Record<string, string> = {},
): Promise<{ stdout: string; stderr: string }> {
  const assignments = Object.entries(variables).map(([key, value]) => `${key}=${value}`);
  return sh('make', ['--no-print-directory', target, ...assignments], deploymentEnv(deployment));
}

/** The JSON document at the end of a make target's output (after compose's own lines). */
export function lastJson(output: string): Record<string, unknown> {
  const start = output.lastIndexOf('\n{');
  return JSON.parse(output.slice(start === -1 ? output.indexOf('{') : start + 1));
}

export async function compose(deployment: Deployment, ...args: string[]) {
  const bin = await composeCommand();
  return sh(
    bin[0] as string,
    [...bin.slice(1), '-p', deployment.project, ...args],
    deploymentEnv(deployment),
  );
}

let detected: string[] | null = null;
async function composeCommand(): Promise<string[]> {
  if (detected !== null) return detected;
  try {
    await run('docker', ['compose', 'version']);
    detected = ['docker', 'compose'];
  } catch {
    detected = ['docker-compose'];
  }
  return detected;
}

export async function appContainer(deployment: Deployment, service = 'app'): Promise<string> {
  const { stdout } = await compose(deployment, '--profile', 'cluster', 'ps', '-q', service);
  const id = stdout.trim();
  if (id === '') throw new Error(`the ${service} container does not exist`);
  return id;
}

export async function inspect(container: string, format: string): Promise<string> {
  return (await sh('docker', ['inspect', '-f', format, container])).stdout.trim();
}

export async function waitHealthy(container: string, minRestarts = 0): Promise<void> {
  await sh('scripts/docker/wait-healthy.sh', [container, String(minRestarts), '120']);
}

/**
 * SIGKILLs the service process inside a container from the host, as the
 * kernel's OOM killer would: Docker's restart policy applies (a `docker kill`
 * would count as a manual stop). Returns the container's restart count before.
 */
export async function killServiceProcess(container: string): Promise<number> {
  const restarts = Number(await inspect(container, '{{.RestartCount}}'));
  const initPid = await inspect(container, '{{.State.Pid}}');
  const { stdout } = await sh('pgrep', ['-P', initPid]);
  const servicePid = Number(stdout.trim().split('\n')[0]);
  if (!(servicePid > 0)) throw new Error(`no service process under ${initPid}`);
  process.kill(servicePid, 'SIGKILL');
  return restarts;
}

const ALL_PROFILES = ['inspect', 'cluster', 'cluster-migrate', 'cluster-inspect'].flatMap(
  (profile) => ['--profile', profile],
);

/** Removes everything this suite may have made under its names; safe to run when nothing exists. */
export async function removeDeployment(deployment: Deployment): Promise<void> {
  await compose(deployment, ...ALL_PROFILES, 'down', '--volumes', '--remove-orphans').catch(
    () => undefined,
  );
  for (const volume of [deployment.volume, postgresVolume(deployment)]) {
    await sh('docker', ['volume', 'rm', '-f', volume]).catch(() => undefined);
  }
  await sh('docker', ['network', 'rm', deployment.network]).catch(() => undefined);
}

export async function http(
  deployment: Deployment,
  path: string,
  method = 'GET',
  body?: unknown,
): Promise<{ status: number; json: Record<string, unknown> & { [key: string]: unknown } }> {
  const response = await fetch(`http://127.0.0.1:${deployment.port}${path}`, {
    method,
    headers: body === undefined ? {} : { 'content-type': 'application/json' },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  // biome-ignore lint/suspicious/noExplicitAny: test convenience for reading answer fields
  return { status: response.status, json: (await response.json()) as any };
}
