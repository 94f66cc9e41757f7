// The ONE place where execution provider, threads, dtype and output-location choices
// are made. Everything else asks this module; nothing else hard-codes "cpu".
import type { InferenceSession } from 'onnxruntime-node';
import type { Config } from '../config.js';
import { DEFAULT_ATTENTION, type AttentionOptions } from '../checkpoints/layers.js';

export type ExecutionProvider = 'cpu' | 'cuda';

export interface InferenceOptions {
  /** Requested provider; `cuda` falls back to `cpu` (logged) when it cannot be loaded. */
  ep: ExecutionProvider;
  deviceId: number;
  /** ORT intra-op threads; 0 = ORT default (all cores). */
  threads: number;
  /** Graph optimisation level handed to ORT. */
  graphOptimization: 'disabled' | 'basic' | 'extended' | 'all';
  /**
   * Where outputs live. 'cpu' everywhere today: onnxruntime-node 1.30 has no IO binding
   * for CUDA buffers, so tensors round-trip through host memory between nodes. Kept here
   * so a GPU-resident path can be switched on in one place when the binding offers it.
   */
  outputLocation: 'cpu';
  /**
   * Let ORT's intra-op threads spin-wait between runs. Off by default: between UNet calls the
   * sampler's own work runs on the JS thread, and spinning pool threads would compete with it.
   */
  allowSpinning?: boolean;
  /**
   * How graphs compiled from checkpoints compute attention (MASKFLOW_ATTENTION; part of the
   * compile key). Default `mha`: onnxruntime's fused MultiHeadAttention, memory-efficient on
   * CPU (flash attention) and CUDA; see AttentionOptions. With `mha`, Optimum exports' UNet/VAE
   * attention is rewritten to the same op at session creation (fused-attention-source.ts).
   */
  attention?: AttentionOptions;
  /**
   * onnxruntime's CPU memory arena (MASKFLOW_ORT_CPU_ARENA=1 turns it on). Off by default: the
   * arena keeps its high-water mark for the life of the session, and onnxruntime-node passes no
   * run options, so `memory.enable_memory_arena_shrinkage` cannot be asked for; measured on the
   * bench model, a 1024² job left 2.5 GB resident and a second one 3.5 GB (the memory-pattern
   * block no longer fits the fragmented arena). Off, freed activations go back to the C heap and
   * release-memory.ts returns them to the OS after each job. The cost is the first run at each
   * input size (no pattern yet: every tensor is freshly mapped, page faults and all): about 1.4×
   * on the bench model's VAE at 1024², a smaller share on a real SDXL whose compute is 16× larger
   * per byte. Later runs at that size use the pattern and are as fast or faster than with the
   * arena. CPU only: on CUDA the device arena is the CUDA EP's own and unchanged.
   */
  cpuMemArena?: boolean;
  /**
   * ORT's memory-pattern planning: from the second run at an input shape, one block per run
   * for all activations (freed after the run). On by default: without the arena, the
   * per-tensor allocations made the VAE decoder 5× slower (1024²: 33–52 s vs 7–10 s); with
   * the pattern, repeated runs are as fast as with the arena and RSS still falls back after
   * the run. The first run at a new shape pays the unpatterned cost.
   */
  memPattern?: boolean;
  /**
   * Tiled VAE encode/decode (MASKFLOW_VAE_TILING), as diffusers' enable_tiling: `auto` (default)
   * tiles only above the VAE's tile size (sample_size, 1024 px for SDXL), where the VAE's
   * full-resolution activations dominate memory; `off` never tiles. Below the threshold nothing
   * changes: tiling alters the numbers slightly (per-tile GroupNorm statistics).
   */
  vaeTiling?: 'auto' | 'off';
  /**
   * After every job, hand the memory native code freed back to the OS (release-memory.ts:
   * glibc's malloc_trim; 2–250 ms). On by default (MASKFLOW_RELEASE_MEMORY=0 turns it off):
   * with the arena off this is what brings RSS back to idle. Host memory only, so on CUDA it
   * covers the host-side tensors and leaves the device alone.
   */
  releaseMemory?: boolean;
}

export function inferenceOptionsFromConfig(config: Pick<Config, 'ep' | 'deviceId' | 'threads' | 'ortOptimization' | 'ortSpinning' | 'attention' | 'ortCpuArena' | 'vaeTiling' | 'releaseMemory'>): InferenceOptions {
  return {
    attention: compiledAttention(config),
    ep: config.ep,
    deviceId: config.deviceId,
    threads: config.threads,
    graphOptimization: config.ortOptimization ?? 'all',
    outputLocation: 'cpu',
    allowSpinning: config.ortSpinning ?? false,
    cpuMemArena: config.ortCpuArena ?? false,
    vaeTiling: config.vaeTiling ?? 'auto',
    releaseMemory: config.releaseMemory ?? true,
  };
}

/** ORT session options for one provider attempt. */
export function sessionOptionsFor(opts: InferenceOptions, ep: ExecutionProvider): InferenceSession.SessionOptions {
  const providers: InferenceSession.SessionOptions['executionProviders'] =
    ep === 'cuda' ? [{ name: 'cuda', deviceId: opts.deviceId }, 'cpu'] : ['cpu'];
  return {
    executionProviders: providers,
    graphOptimizationLevel: opts.graphOptimization,
    ...(opts.threads > 0 ? { intraOpNumThreads: opts.threads, interOpNumThreads: 1 } : {}),
    // Errors only: ORT's warnings about unused initializers are noise for exported models.
    logSeverityLevel: 3,
    enableCpuMemArena: opts.cpuMemArena ?? false,
    enableMemPattern: opts.memPattern ?? true,
    extra: { 'session.intra_op.allow_spinning': opts.allowSpinning ? '1' : '0' },
  };
}

/** The attention choice for compiled graphs (config.attention, else the default). */
export function compiledAttention(config: Pick<Config, 'attention'> | Pick<InferenceOptions, 'attention'>): AttentionOptions {
  const a = config.attention;
  if (!a) return DEFAULT_ATTENTION;
  return typeof a === 'string' ? { ...DEFAULT_ATTENTION, impl: a } : a;
}

/** Element types a model may declare for its float tensors. */
export type FloatDtype = 'float32' | 'float16';

/** Integer types a model may declare for ids / timesteps. */
export type IntDtype = 'int32' | 'int64';

/**
 * Weight dtype of graphs compiled from checkpoints: float32 on CPU (fp16/bf16 files are cast
 * once at session creation, exactly as diffusers upcasts them), float16 on CUDA (fp16 files
 * are used as they are; fp32 ones are cast). Compiled folders are cached per dtype.
 */
export function compiledWeightDtype(opts: Pick<InferenceOptions, 'ep'>): 'float32' | 'float16' {
  return opts.ep === 'cuda' ? 'float16' : 'float32';
}
