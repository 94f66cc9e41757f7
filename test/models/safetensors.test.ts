import { describe, expect, it, beforeAll, afterAll } from 'vitest';
import { mkdtemp, open, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { SafetensorsFile, encodeSafetensors, toFloat32 } from '../../server/models/safetensors.js';
import { f16ToF32, f32ToF16, bf16ToF32, f32ToBf16 } from '../../server/models/half.js';
import { NodeError } from '../../server/engine/errors.js';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'mf-st-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

function header(obj: unknown, extra = 0): Uint8Array {
  const json = new TextEncoder().encode(JSON.stringify(obj));
  const out = new Uint8Array(8 + json.byteLength + extra);
  new DataView(out.buffer).setBigUint64(0, BigInt(json.byteLength), true);
  out.set(json, 8);
  return out;
}

async function expectInvalid(bytes: Uint8Array, pattern: RegExp): Promise<void> {
  const file = path.join(dir, `bad-${Math.random().toString(36).slice(2)}.safetensors`);
  await writeFile(file, bytes);
  const err = await SafetensorsFile.open(file, 'my-lora.safetensors').then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(NodeError);
  expect((err as NodeError).code).toBe('invalid_safetensors');
  expect((err as NodeError).message).toContain('my-lora.safetensors');
  expect((err as NodeError).message).toMatch(pattern);
}

describe('safetensors reader', () => {
  it('reads the textual-inversion fixture (header, shapes, values)', async () => {
    const f = await SafetensorsFile.open(path.resolve('test/fixtures/textual_inversion/tiny-ti.safetensors'));
    expect(f.keys().sort()).toEqual(['clip_g', 'clip_l']);
    expect(f.info('clip_g').shape).toEqual([2, 32]);
    const g = await f.readFloat32('clip_g');
    expect(g.length).toBe(64);
    expect(g[0]).toBeCloseTo(0.042778193950653076, 7);
    const l = await f.readFloat32('clip_l');
    expect(l[1]).toBeCloseTo(0.0063591632060706615, 7);
    await f.close();
  });

  it('round-trips F32, F16 and BF16 tensors and metadata', async () => {
    const vals = Float32Array.from([0, 1, -2.5, 0.1, 65504, 1e-5, -3.14159]);
    const h = Uint16Array.from(vals, (v) => f32ToF16(v));
    const b = Uint16Array.from(vals, (v) => f32ToBf16(v));
    const file = path.join(dir, 'mixed.safetensors');
    await writeFile(file, encodeSafetensors({ a: { dtype: 'F32', shape: [7], data: vals }, h: { dtype: 'F16', shape: [7, 1], data: h }, b: { dtype: 'BF16', shape: [1, 7], data: b } }, { ss_network_dim: '4' }));
    const f = await SafetensorsFile.open(file);
    expect(f.metadata).toEqual({ ss_network_dim: '4' });
    expect(Array.from(await f.readFloat32('a'))).toEqual(Array.from(vals));
    const hf = await f.readFloat32('h');
    const bf = await f.readFloat32('b');
    for (let i = 0; i < vals.length; i++) {
      expect(hf[i]).toBe(f16ToF32(h[i]!));
      expect(Math.abs(hf[i]! - vals[i]!)).toBeLessThanOrEqual(Math.abs(vals[i]!) * 1e-3 + 1e-7);
      expect(bf[i]).toBe(bf16ToF32(b[i]!));
      expect(Math.abs(bf[i]! - vals[i]!)).toBeLessThanOrEqual(Math.abs(vals[i]!) * 8e-3);
    }
    await f.close();
  });

  it('converts half precision exactly (subnormals, rounding to even, infinities)', () => {
    expect(f32ToF16(1)).toBe(0x3c00);
    expect(f32ToF16(65504)).toBe(0x7bff);
    expect(f32ToF16(70000)).toBe(0x7c00);
    expect(f32ToF16(2 ** -24)).toBe(1);
    expect(f32ToF16(-0)).toBe(0x8000);
    expect(f32ToF16(1 + 2 ** -11)).toBe(0x3c00); // tie -> even
    expect(f32ToF16(1 + 3 * 2 ** -11)).toBe(0x3c02);
    for (let bits = 0; bits < 0x7c00; bits += 7) expect(f32ToF16(f16ToF32(bits))).toBe(bits);
    expect(toFloat32(Uint8Array.from([0x80, 0x3f]), 'BF16')[0]).toBe(1);
  });

  it('reads tensors beyond the 2 GiB / 4 GiB offsets of big files (sparse file)', async () => {
    const file = path.join(dir, 'big.safetensors');
    const far = 4.5 * 2 ** 30; // tensor starts past 4 GiB
    const h = header({ big: { dtype: 'F32', shape: [4], data_offsets: [far, far + 16] }, small: { dtype: 'F16', shape: [2], data_offsets: [0, 4] } });
    const fh = await open(file, 'w');
    await fh.write(h, 0, h.byteLength, 0);
    const dataStart = h.byteLength;
    await fh.write(Uint8Array.from([0x00, 0x3c, 0x00, 0xc0]), 0, 4, dataStart);
    await fh.write(new Uint8Array(Float32Array.from([1.5, -2, 3.25, 4]).buffer), 0, 16, dataStart + far);
    await fh.close();
    const f = await SafetensorsFile.open(file);
    expect(f.size).toBeGreaterThan(4 * 2 ** 30);
    expect(Array.from(await f.readFloat32('big'))).toEqual([1.5, -2, 3.25, 4]);
    expect(Array.from(await f.readFloat32('small'))).toEqual([1, -2]);
    await f.close();
  });

  it('rejects malformed files with a clear error naming the file', async () => {
    await expectInvalid(Uint8Array.from([1, 2, 3]), /3 bytes/);
    const hugeLen = new Uint8Array(16);
    new DataView(hugeLen.buffer).setBigUint64(0, 1n << 40n, true);
    await expectInvalid(hugeLen, /header length/);
    const notJson = header({ abcdef: 1 });
    notJson.set(new TextEncoder().encode('{"a":'), 8);
    await expectInvalid(notJson, /not JSON/);
    await expectInvalid(header([1, 2]), /not a JSON object/);
    await expectInvalid(header({ w: { dtype: 'F8', shape: [1], data_offsets: [0, 1] } }, 1), /unsupported dtype/);
    await expectInvalid(header({ w: { dtype: 'F32', shape: [3], data_offsets: [0, 8] } }, 8), /needs 12/);
    await expectInvalid(header({ w: { dtype: 'F32', shape: [4], data_offsets: [0, 16] } }, 8), /beyond the data/);
    await expectInvalid(header({ w: { dtype: 'F32', shape: [-1], data_offsets: [0, 4] } }, 4), /invalid shape/);
    await expectInvalid(header({ w: { dtype: 'F32', shape: [1], data_offsets: [4] } }, 4), /invalid data_offsets/);
    await expectInvalid(header({ a: { dtype: 'F32', shape: [2], data_offsets: [0, 8] }, b: { dtype: 'F32', shape: [2], data_offsets: [4, 12] } }, 12), /overlap/);
  });
});
