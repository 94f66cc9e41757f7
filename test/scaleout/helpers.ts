// Real infrastructure for the scale-out tests: a private redis-server child process and
// `maskflow worker` child processes (bin/maskflow.mjs), all killed in afterAll.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, rmSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { FIXTURE_MODELS, REPO, tempDir, until } from '../server/helpers.js';

export const REDIS_SERVER = '/usr/bin/redis-server';

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as net.AddressInfo;
      s.close(() => resolve(port));
    });
  });
}

function answersPing(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const sock = net.connect(port, '127.0.0.1');
    sock.setTimeout(500);
    sock.once('connect', () => sock.write('PING\r\n'));
    sock.once('data', (d) => {
      sock.destroy();
      resolve(String(d).startsWith('+PONG'));
    });
    sock.once('error', () => resolve(false));
    sock.once('timeout', () => (sock.destroy(), resolve(false)));
  });
}

export interface TestRedis {
  url: string;
  stop(): Promise<void>;
  /** Kills Redis (its state is lost: no persistence) and starts an empty one on the same port after `downMs`. */
  restart(downMs: number): Promise<void>;
}

export async function startRedis(): Promise<TestRedis> {
  if (!existsSync(REDIS_SERVER)) {
    throw new Error(`${REDIS_SERVER} is missing: the scale-out tests need a real Redis (apt-get install redis-server; .ci/run does it)`);
  }
  const port = await freePort();
  const dirs: string[] = [];
  const launch = async () => {
    const dir = tempDir('maskflow-redis-');
    dirs.push(dir);
    const p = spawn(REDIS_SERVER, ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir], { stdio: 'ignore' });
    await until(() => answersPing(port).then((ok) => ok || undefined), 10_000, 50);
    return p;
  };
  let proc = await launch();
  return {
    url: `redis://127.0.0.1:${port}`,
    async stop() {
      await stopProcess(proc);
      for (const d of dirs) rmSync(d, { recursive: true, force: true });
    },
    async restart(downMs) {
      await stopProcess(proc);
      rmSync(dirs.pop()!, { recursive: true, force: true });
      await new Promise((r) => setTimeout(r, downMs));
      proc = await launch();
    },
  };
}

function stopProcess(proc: ChildProcess, signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
  if (proc.exitCode !== null || proc.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    proc.once('exit', () => resolve());
    proc.kill(signal);
  });
}

export interface TestWorker {
  proc: ChildProcess;
  id: string;
  /** Every log line (pino JSON) the worker printed. */
  logs: string[];
  /** Resolves with the exit code when the process ends. */
  exited: Promise<number | null>;
  kill(signal?: NodeJS.Signals): Promise<void>;
}

const workers: TestWorker[] = [];
const dataDirs: string[] = [];

/** Spawns `maskflow worker` without waiting for it. */
export function spawnWorker(env: Record<string, string>): TestWorker {
  const dataDir = tempDir('maskflow-worker-');
  dataDirs.push(dataDir);
  const proc = spawn(process.execPath, [path.join(REPO, 'bin/maskflow.mjs'), 'worker'], {
    cwd: REPO,
    env: {
      PATH: process.env.PATH,
      MASKFLOW_DATA_DIR: dataDir,
      MASKFLOW_MODELS_DIR: FIXTURE_MODELS,
      MASKFLOW_THREADS: '1',
      MASKFLOW_LOG_LEVEL: 'info',
      // Short locks, so a killed worker's job goes back to the queue within seconds.
      MASKFLOW_WORKER_LOCK_MS: '4000',
      MASKFLOW_WORKER_STALLED_CHECK_MS: '1000',
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const logs: string[] = [];
  let buffered = '';
  const onData = (d: Buffer) => {
    buffered += String(d);
    const lines = buffered.split('\n');
    buffered = lines.pop()!;
    logs.push(...lines);
  };
  proc.stdout!.on('data', onData);
  proc.stderr!.on('data', onData);
  const exited = new Promise<number | null>((resolve) => proc.once('exit', (code) => resolve(code)));
  const worker: TestWorker = { proc, id: '', logs, exited, kill: (signal) => stopProcess(proc, signal) };
  workers.push(worker);
  return worker;
}

/** Spawns `maskflow worker` and resolves once it is ready (heartbeating). */
export async function startWorker(env: Record<string, string>): Promise<TestWorker> {
  const worker = spawnWorker(env);
  const { proc, logs } = worker;
  const ready = await until(
    () => {
      if (proc.exitCode !== null) throw new Error(`maskflow worker exited (${proc.exitCode}):\n${logs.join('\n')}`);
      const line = logs.find((l) => l.includes('maskflow worker ready'));
      return line ? (JSON.parse(line) as { worker: string }) : undefined;
    },
    60_000,
    50,
  );
  worker.id = ready.worker;
  return worker;
}

export async function stopAllWorkers(): Promise<void> {
  await Promise.all(workers.splice(0).map((w) => w.kill()));
  for (const d of dataDirs.splice(0)) rmSync(d, { recursive: true, force: true });
}

/** Log lines (pino JSON, parsed) of a worker that carry this message; plain stderr lines are skipped. */
export const logsWith = (w: TestWorker, msg: string) =>
  w.logs.filter((l) => l.startsWith('{') && l.includes(msg)).map((l) => JSON.parse(l) as Record<string, unknown>);
