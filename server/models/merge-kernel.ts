// The arithmetic of a merge: W + scale · (A @ B) and fp16/bf16 <-> f32 conversion. Two
// implementations: plain JS (small models, no session) and ORT (MLAS matmul on all cores,
// native casts), which is what makes a real SDXL LoRA (~70 GMAC for rank 32) take seconds,
// not minutes. Both compute the delta in float32 and add it once, as torch does.
import ort from 'onnxruntime-node';
import { DT_FLOAT, DT_FLOAT16, decodeFloat32, encodeFloat32 } from './onnx-graph.js';
import { buildModel } from './onnx-build.js';
import { addLoraDelta } from './lora.js';
import type { ModuleWeight } from './onnx-modules.js';

type Layout = Pick<ModuleWeight, 'layout' | 'shape'>;

export interface MergeKernel {
  /** Returns w + scale · up @ down in w's stored layout (may reuse w). */
  addDelta(w: Float32Array, weight: Layout, up: Float32Array, down: Float32Array, rank: number, scale: number): Promise<Float32Array>;
  decode(bytes: Uint8Array, dataType: number): Promise<Float32Array>;
  encode(values: Float32Array, dataType: number): Promise<Uint8Array>;
}

export const jsKernel: MergeKernel = {
  async addDelta(w, weight, up, down, rank, scale) {
    addLoraDelta(w, weight, up, down, rank, scale);
    return w;
  },
  async decode(bytes, dataType) {
    return decodeFloat32(bytes, dataType);
  },
  async encode(values, dataType) {
    return encodeFloat32(values, dataType);
  },
};

const F32 = DT_FLOAT;

function transpose(x: Float32Array, rows: number, cols: number): Float32Array {
  const out = new Float32Array(x.length);
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) out[c * rows + r] = x[r * cols + c]!;
  return out;
}

export class OrtMergeKernel implements MergeKernel {
  private constructor(
    private readonly merge: ort.InferenceSession,
    private readonly toF32: ort.InferenceSession,
    private readonly toF16: ort.InferenceSession,
  ) {}

  static async create(threads = 0): Promise<OrtMergeKernel> {
    const opts: ort.InferenceSession.SessionOptions = { graphOptimizationLevel: 'all', logSeverityLevel: 3, ...(threads > 0 ? { intraOpNumThreads: threads } : {}) };
    // Y = W + (A @ B) * S, in float32 (torch: W += scale * (up @ down)).
    const merge = buildModel({
      nodes: [
        { name: 'mm', op: 'MatMul', inputs: ['A', 'B'], outputs: ['D'] },
        { name: 'scale', op: 'Mul', inputs: ['D', 'S'], outputs: ['E'] },
        { name: 'add', op: 'Add', inputs: ['W', 'E'], outputs: ['Y'] },
      ],
      inputs: [
        { name: 'W', elemType: F32, dims: ['m', 'n'] },
        { name: 'A', elemType: F32, dims: ['m', 'k'] },
        { name: 'B', elemType: F32, dims: ['k', 'n'] },
        { name: 'S', elemType: F32, dims: [1] },
      ],
      outputs: [{ name: 'Y', elemType: F32, dims: ['m', 'n'] }],
    });
    const cast = (from: number, to: number) =>
      buildModel({
        nodes: [{ name: 'cast', op: 'Cast', inputs: ['X'], outputs: ['Y'], ints: { to } }],
        inputs: [{ name: 'X', elemType: from, dims: ['n'] }],
        outputs: [{ name: 'Y', elemType: to, dims: ['n'] }],
      });
    const [m, a, b] = await Promise.all([
      ort.InferenceSession.create(merge, opts),
      ort.InferenceSession.create(cast(DT_FLOAT16, F32), opts),
      ort.InferenceSession.create(cast(F32, DT_FLOAT16), opts),
    ]);
    return new OrtMergeKernel(m, a, b);
  }

  async addDelta(w: Float32Array, weight: Layout, up: Float32Array, down: Float32Array, rank: number, scale: number): Promise<Float32Array> {
    const out = weight.shape[0]!;
    const inFlat = w.length / out;
    // Stored transposed [in, out]: (up @ down)ᵀ = downᵀ @ upᵀ lands in the stored layout directly.
    const [m, n, a, b] = weight.layout === 'same' ? [out, inFlat, up, down] : [inFlat, out, transpose(down, rank, inFlat), transpose(up, out, rank)];
    const res = await this.merge.run({
      W: new ort.Tensor('float32', w, [m, n]),
      A: new ort.Tensor('float32', a, [m, rank]),
      B: new ort.Tensor('float32', b, [rank, n]),
      S: new ort.Tensor('float32', Float32Array.of(scale), [1]),
    });
    return res.Y!.data as Float32Array;
  }

  async decode(bytes: Uint8Array, dataType: number): Promise<Float32Array> {
    if (dataType !== DT_FLOAT16) return decodeFloat32(bytes, dataType);
    const bits = bytes.byteOffset % 2 === 0 ? new Uint16Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 2) : new Uint16Array(bytes.slice().buffer);
    const res = await this.toF32.run({ X: new ort.Tensor('float16', bits, [bits.length]) });
    return res.Y!.data as Float32Array;
  }

  async encode(values: Float32Array, dataType: number): Promise<Uint8Array> {
    if (dataType !== DT_FLOAT16) return encodeFloat32(values, dataType);
    const res = await this.toF16.run({ X: new ort.Tensor('float32', values, [values.length]) });
    const bits = res.Y!.data as Uint16Array;
    return new Uint8Array(bits.buffer, bits.byteOffset, bits.byteLength);
  }

  async release(): Promise<void> {
    await Promise.all([this.merge.release(), this.toF32.release(), this.toF16.release()]);
  }
}
