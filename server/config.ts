// All configuration, from the environment (MASKFLOW_*), with embedded defaults so
// `npm start` works on a fresh machine. The worker receives the same object.
import path from 'node:path';

export type ExecutionProvider = 'cpu' | 'cuda';

export interface Config {
  host: string;
  port: number;
  modelsDir: string;
  defaultModel?: string;
  dataDir: string;
  apiKeys: string[];
  /** Hosts or CIDRs URL fetching may reach although private/loopback. */
  urlAllowlist: string[];

  /** Inference: one place for execution provider, dtype and threads. */
  ep: ExecutionProvider;
  /** CUDA device id when ep = cuda. */
  deviceId: number;
  /** ORT intra-op threads; 0 = ORT's default (all cores). */
  threads: number;
  /** ORT graph optimisation level (MASKFLOW_ORT_OPTIMIZATION). */
  ortOptimization?: 'disabled' | 'basic' | 'extended' | 'all';
  /** Let ORT's intra-op threads spin between runs (MASKFLOW_ORT_SPINNING=1). */
  ortSpinning?: boolean;
  /** How compiled checkpoints compute attention (MASKFLOW_ATTENTION; inference-options.ts). */
  attention?: 'mha' | 'chunked' | 'full';
  /** onnxruntime's CPU memory arena (MASKFLOW_ORT_CPU_ARENA=1; inference-options.ts). */
  ortCpuArena?: boolean;
  /** Tiled VAE above the VAE's tile size (MASKFLOW_VAE_TILING=auto|off; inference-options.ts). */
  vaeTiling?: 'auto' | 'off';
  /** Hand freed memory back to the OS after every job (MASKFLOW_RELEASE_MEMORY=0 keeps it; inference-options.ts). */
  releaseMemory?: boolean;
  /** Bound on pooled ORT sessions, bytes of model weights. */
  sessionCacheBytes: number;
  /** Bound on the node output cache in each worker. */
  outputCacheBytes: number;
  /** Number of execution workers (one per device). */
  workers: number;

  /** Image loading limits. */
  maxImageBytes: number;
  maxImagePixels: number;
  fetchTimeoutMs: number;
  maxRedirects: number;
  /** image/load-image may read local file paths (the CLI turns this on; the server never does). */
  allowLocalPaths: boolean;
  /** LoRA / embedding download limit. */
  maxModelFileBytes: number;
  /** Time limit of one LoRA / embedding download (they are far bigger than images). */
  modelFetchTimeoutMs: number;
  /** `models pull`: Hugging Face Hub endpoint and token (HF_ENDPOINT, HF_TOKEN, as huggingface_hub reads them). */
  hfEndpoint: string;
  hfToken?: string;
  /** `models pull`: largest file a pull downloads (MASKFLOW_MAX_PULL_FILE_MB; SDXL checkpoints are 7 GB). */
  maxPullFileBytes: number;

  /** Request limits. */
  maxSteps: number;
  maxSide: number;
  maxNumImages: number;
  maxWorkflowNodes: number;
  maxBodyBytes: number;
  maxQueue: number;
  /** Requests per minute per API key (or per IP without keys); 0 = unlimited. */
  rateLimitPerMinute: number;
  corsOrigins: string[];

  /** Safety checker model folder; `refuse` fails requests that ask for a check no model can do. */
  safetyModel?: string;
  safetyPolicy: 'report' | 'refuse';
  safetyAction: 'black' | 'blur';
  /** Image-classifier safety models: flag when P(unsafe labels) > this (overrides config.json nsfw_threshold). */
  safetyThreshold?: number;

  /** OpenAI-compatible chat-completions endpoint; systemPrompt overrides the built-in SDXL prompt. */
  promptExpander?: { url: string; model: string; apiKey?: string; timeoutMs: number; systemPrompt?: string };

  logLevel: string;

  /** Public base URL of the server (behind a proxy); default: from each request's Host. */
  publicUrl?: string;
  /** A job interrupted by restarts this many times is failed instead of run again. */
  jobMaxAttempts: number;

  /** Scale-out: Redis that feeds `maskflow worker` processes (API node: no worker threads then). */
  redisUrl?: string;
  /** Scale-out worker: the API node's base URL, which serves and stores its files. */
  serverUrl?: string;
  /** Scale-out worker: API key sent to serverUrl (default: the first of apiKeys). */
  serverKey?: string;
  /** Scale-out worker: BullMQ job lock; a dead worker's job is retried after it expires. */
  workerLockMs: number;
  /** Scale-out worker: how often BullMQ looks for jobs whose worker died. */
  workerStalledCheckMs: number;
}

type Env = Record<string, string | undefined>;

function list(v: string | undefined): string[] {
  return (v ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
}

function int(env: Env, name: string, def: number): number {
  const v = env[name];
  if (v === undefined || v === '') return def;
  const n = Number(v);
  if (!Number.isFinite(n)) throw new Error(`${name} must be a number, got "${v}"`);
  return n;
}

function oneOf<T extends string>(env: Env, name: string, allowed: readonly T[], def: T): T {
  const v = env[name];
  if (v === undefined || v === '') return def;
  if (!(allowed as readonly string[]).includes(v)) throw new Error(`${name} must be one of ${allowed.join(', ')}, got "${v}"`);
  return v as T;
}

export function loadConfig(env: Env = process.env, cwd = process.cwd()): Config {
  const expanderUrl = env.MASKFLOW_PROMPT_EXPANDER_URL;
  return {
    host: env.MASKFLOW_HOST || '127.0.0.1',
    port: int(env, 'MASKFLOW_PORT', 8188),
    modelsDir: path.resolve(cwd, env.MASKFLOW_MODELS_DIR || './models'),
    defaultModel: env.MASKFLOW_DEFAULT_MODEL || undefined,
    dataDir: path.resolve(cwd, env.MASKFLOW_DATA_DIR || './data'),
    apiKeys: list(env.MASKFLOW_API_KEYS),
    urlAllowlist: list(env.MASKFLOW_URL_ALLOWLIST),
    ep: oneOf(env, 'MASKFLOW_EP', ['cpu', 'cuda'] as const, 'cpu'),
    deviceId: int(env, 'MASKFLOW_DEVICE_ID', 0),
    threads: int(env, 'MASKFLOW_THREADS', 0),
    ortOptimization: oneOf(env, 'MASKFLOW_ORT_OPTIMIZATION', ['disabled', 'basic', 'extended', 'all'] as const, 'all'),
    ortSpinning: env.MASKFLOW_ORT_SPINNING === '1',
    attention: oneOf(env, 'MASKFLOW_ATTENTION', ['mha', 'chunked', 'full'] as const, 'mha'),
    ortCpuArena: env.MASKFLOW_ORT_CPU_ARENA === '1',
    vaeTiling: oneOf(env, 'MASKFLOW_VAE_TILING', ['auto', 'off'] as const, 'auto'),
    releaseMemory: env.MASKFLOW_RELEASE_MEMORY !== '0',
    sessionCacheBytes: int(env, 'MASKFLOW_SESSION_CACHE_MB', 16384) * 1024 * 1024,
    outputCacheBytes: int(env, 'MASKFLOW_OUTPUT_CACHE_MB', 2048) * 1024 * 1024,
    workers: int(env, 'MASKFLOW_WORKERS', 1),
    maxImageBytes: int(env, 'MASKFLOW_MAX_IMAGE_MB', 32) * 1024 * 1024,
    maxImagePixels: int(env, 'MASKFLOW_MAX_IMAGE_PIXELS', 64 * 1024 * 1024),
    fetchTimeoutMs: int(env, 'MASKFLOW_FETCH_TIMEOUT_MS', 20000),
    maxRedirects: int(env, 'MASKFLOW_MAX_REDIRECTS', 5),
    allowLocalPaths: false,
    maxModelFileBytes: int(env, 'MASKFLOW_MAX_MODEL_FILE_MB', 2048) * 1024 * 1024,
    modelFetchTimeoutMs: int(env, 'MASKFLOW_MODEL_FETCH_TIMEOUT_MS', 300000),
    hfEndpoint: env.HF_ENDPOINT || 'https://huggingface.co',
    hfToken: env.HF_TOKEN || undefined,
    maxPullFileBytes: int(env, 'MASKFLOW_MAX_PULL_FILE_MB', 16384) * 1024 * 1024,
    maxSteps: int(env, 'MASKFLOW_MAX_STEPS', 150),
    maxSide: int(env, 'MASKFLOW_MAX_SIDE', 2048),
    maxNumImages: int(env, 'MASKFLOW_MAX_NUM_IMAGES', 8),
    maxWorkflowNodes: int(env, 'MASKFLOW_MAX_WORKFLOW_NODES', 500),
    maxBodyBytes: int(env, 'MASKFLOW_MAX_BODY_MB', 50) * 1024 * 1024,
    maxQueue: int(env, 'MASKFLOW_MAX_QUEUE', 1000),
    rateLimitPerMinute: int(env, 'MASKFLOW_RATE_LIMIT_PER_MINUTE', 0),
    corsOrigins: list(env.MASKFLOW_CORS_ORIGINS),
    safetyModel: env.MASKFLOW_SAFETY_MODEL ? path.resolve(cwd, env.MASKFLOW_SAFETY_MODEL) : undefined,
    safetyPolicy: oneOf(env, 'MASKFLOW_SAFETY_POLICY', ['report', 'refuse'] as const, 'report'),
    safetyAction: oneOf(env, 'MASKFLOW_SAFETY_ACTION', ['black', 'blur'] as const, 'black'),
    safetyThreshold: env.MASKFLOW_SAFETY_THRESHOLD ? int(env, 'MASKFLOW_SAFETY_THRESHOLD', 0.5) : undefined,
    promptExpander: expanderUrl
      ? {
          url: expanderUrl,
          model: env.MASKFLOW_PROMPT_EXPANDER_MODEL || 'default',
          apiKey: env.MASKFLOW_PROMPT_EXPANDER_KEY || undefined,
          timeoutMs: int(env, 'MASKFLOW_PROMPT_EXPANDER_TIMEOUT_MS', 30000),
          systemPrompt: env.MASKFLOW_PROMPT_EXPANDER_SYSTEM_PROMPT || undefined,
        }
      : undefined,
    logLevel: env.MASKFLOW_LOG_LEVEL || 'info',
    publicUrl: env.MASKFLOW_PUBLIC_URL || undefined,
    jobMaxAttempts: int(env, 'MASKFLOW_JOB_MAX_ATTEMPTS', 3),
    redisUrl: env.MASKFLOW_REDIS_URL || undefined,
    serverUrl: env.MASKFLOW_SERVER_URL ? env.MASKFLOW_SERVER_URL.replace(/\/+$/, '') : undefined,
    serverKey: env.MASKFLOW_SERVER_KEY || list(env.MASKFLOW_API_KEYS)[0],
    workerLockMs: int(env, 'MASKFLOW_WORKER_LOCK_MS', 30000),
    workerStalledCheckMs: int(env, 'MASKFLOW_WORKER_STALLED_CHECK_MS', 15000),
  };
}
