// One UNet call per denoising step. The conditioning tensors are built once per run
// and reused; only `sample` and `timestep` change between steps, which keeps the host
// overhead per step small. Dtypes/shapes come from the session's input metadata.
import type { InferenceSession, Tensor } from 'onnxruntime-node';
import { floatInput, hasInput, inputMeta, outputF32, timestepInput, type TensorMetadata } from '../models/ort-io.js';
import { isResidualInput } from '../checkpoints/unet-graph.js';

export interface UnetConditioning {
  batch: number;
  /** [batch, seq, dim] */
  encoderHiddenStates: Float32Array;
  seqLen: number;
  dim: number;
  /** [batch, pooledDim] */
  textEmbeds: Float32Array;
  pooledDim: number;
  /** [batch, timeIdWidth] */
  timeIds: Float32Array;
  timeIdWidth: number;
}

/** Compiled UNets take ControlNet residuals; without a ControlNet each is a broadcast [1,1,1,1] zero. */
export function noResiduals(session: InferenceSession): Record<string, Tensor> {
  return Object.fromEntries(session.inputNames.filter(isResidualInput).map((name) => [name, floatInput(inputMeta(session, name), new Float32Array(1), [1, 1, 1, 1])]));
}

export class UnetRunner {
  private readonly sampleMeta: TensorMetadata;
  private readonly timestepMeta: TensorMetadata;
  /** The per-run constant feeds (encoder_hidden_states, text_embeds, time_ids): ControlNets take them too. */
  readonly fixed: Record<string, Tensor>;
  private readonly outputName: string;
  /** Milliseconds spent inside session.run (for the overhead benchmark). */
  runMs = 0;

  constructor(
    readonly session: InferenceSession,
    private readonly cond: UnetConditioning,
  ) {
    this.sampleMeta = inputMeta(session, 'sample');
    this.timestepMeta = inputMeta(session, 'timestep');
    const b = cond.batch;
    this.fixed = {
      encoder_hidden_states: floatInput(inputMeta(session, 'encoder_hidden_states'), cond.encoderHiddenStates, [b, cond.seqLen, cond.dim]),
    };
    if (hasInput(session, 'text_embeds')) this.fixed.text_embeds = floatInput(inputMeta(session, 'text_embeds'), cond.textEmbeds, [b, cond.pooledDim]);
    if (hasInput(session, 'time_ids')) this.fixed.time_ids = floatInput(inputMeta(session, 'time_ids'), cond.timeIds, [b, cond.timeIdWidth]);
    this.outputName = session.outputNames.includes('out_sample') ? 'out_sample' : session.outputNames[0]!;
    Object.assign(this.fixed, noResiduals(session));
  }

  /** Runs the UNet on sample [batch, C, h, w] at timestep t; returns the [batch, 4, h, w] prediction. */
  /** The timestep feed of step t (shared with ControlNets). */
  timestep(t: number): Tensor {
    return timestepInput(this.timestepMeta, t, this.cond.batch);
  }

  /** `extra`: ControlNet residual feeds (compiled UNets have them as optional inputs). */
  async run(sample: Float32Array, channels: number, h: number, w: number, t: number, extra: Record<string, Tensor> = {}): Promise<Float32Array> {
    const b = this.cond.batch;
    const feeds: Record<string, Tensor> = {
      ...this.fixed,
      ...extra,
      sample: floatInput(this.sampleMeta, sample, [b, channels, h, w]),
      timestep: this.timestep(t),
    };
    const t0 = performance.now();
    const out = await this.session.run(feeds, [this.outputName]);
    this.runMs += performance.now() - t0;
    return outputF32(out[this.outputName], this.outputName);
  }
}
