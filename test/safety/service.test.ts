// Layout detection, label rules, the check/replace logic, /health status and the REST refusal helper.
import { mkdtempSync, mkdirSync, symlinkSync, writeFileSync, copyFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import ort from 'onnxruntime-node';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../server/config.js';
import { obscureBlur } from '../../server/safety/actions.js';
import type { LoadSession, SafetyChecker } from '../../server/safety/checker.js';
import { judge, parseClassifierLabels } from '../../server/safety/labels.js';
import { detectSafetyModel } from '../../server/safety/model-folder.js';
import { runSafetyCheck } from '../../server/safety/run-check.js';
import { createSafetyService, type SafetyService } from '../../server/safety/service.js';
import { safetyRefusal, safetyStatus } from '../../server/safety/status.js';
import type { RgbImage } from '../../server/image/types.js';
import { CLASSIFIER_DIR, SD_CHECKER_DIR } from './fixtures.js';

const load: LoadSession = (p) => ort.InferenceSession.create(p, { executionProviders: ['cpu'], logSeverityLevel: 3 });

function tmp(): string {
  return mkdtempSync(path.join(os.tmpdir(), 'maskflow-safety-'));
}

function solid(w: number, h: number, v: number): RgbImage {
  return { width: w, height: h, data: new Uint8Array(w * h * 3).fill(v) };
}

function gradient(w: number, h: number): RgbImage {
  const data = new Uint8Array(w * h * 3);
  for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) data.set([(x * 255) / (w - 1), (y * 255) / (h - 1), (x % 2) * 255], (y * w + x) * 3);
  return { width: w, height: h, data };
}

describe('safety model folder detection', () => {
  it('recognises the diffusers layout and the flat classifier', () => {
    expect(detectSafetyModel(SD_CHECKER_DIR)).toMatchObject({ layout: 'sd-safety-checker', name: 'stable_diffusion_safety_checker' });
    expect(detectSafetyModel(CLASSIFIER_DIR)).toMatchObject({ layout: 'image-classifier', configPath: path.join(CLASSIFIER_DIR, 'config.json') });
  });

  it('accepts an SD pipeline root and the safety_checker/ folder itself', () => {
    const root = tmp();
    symlinkSync(path.join(SD_CHECKER_DIR, 'safety_checker'), path.join(root, 'safety_checker'));
    symlinkSync(path.join(SD_CHECKER_DIR, 'feature_extractor'), path.join(root, 'feature_extractor'));
    writeFileSync(path.join(root, 'model_index.json'), '{"_class_name":"OnnxStableDiffusionPipeline"}');
    expect(detectSafetyModel(root).layout).toBe('sd-safety-checker');
    const inner = detectSafetyModel(path.join(SD_CHECKER_DIR, 'safety_checker'));
    expect(inner.layout).toBe('sd-safety-checker');
    expect(inner.preprocessorPath).toContain('feature_extractor');
  });

  it('names what is missing', () => {
    const d = tmp();
    expect(() => detectSafetyModel(path.join(d, 'nope'))).toThrow(/does not exist/);
    expect(() => detectSafetyModel(d)).toThrow(/not a safety model folder/);
    copyFileSync(path.join(CLASSIFIER_DIR, 'config.json'), path.join(d, 'config.json'));
    writeFileSync(path.join(d, 'model.onnx'), '');
    expect(() => detectSafetyModel(d)).toThrow(/lacks preprocessor_config\.json/);
    const sd = tmp();
    mkdirSync(path.join(sd, 'safety_checker'));
    writeFileSync(path.join(sd, 'safety_checker', 'model.onnx'), '');
    expect(() => detectSafetyModel(sd)).toThrow(/feature_extractor/);
  });
});

describe('classifier label rules', () => {
  it('takes unsafe labels from the regex, sums them, and applies the threshold strictly', () => {
    const cfg = parseClassifierLabels({ id2label: { 0: 'drawings', 1: 'hentai', 2: 'neutral', 3: 'porn', 4: 'sexy' } });
    expect(cfg.unsafe).toEqual([1, 3, 4]);
    expect(cfg.threshold).toBe(0.5);
    const v = judge([0, Math.log(2), 0, Math.log(2), 0], cfg); // probs 1/7, 2/7, 1/7, 2/7, 1/7
    expect(v.probability).toBeCloseTo(5 / 7, 12);
    expect(v.nsfw).toBe(true);
    expect(v.label).toBe('hentai');
    expect(judge([0, 0], parseClassifierLabels({ id2label: { 0: 'safe', 1: 'unsafe' } })).nsfw).toBe(false); // 0.5 is not > 0.5
  });
  it('honours nsfw_labels and nsfw_threshold, and an override above both', () => {
    const raw = { id2label: { 0: 'ok', 1: 'bad' }, nsfw_labels: ['bad'], nsfw_threshold: 0.9 };
    expect(parseClassifierLabels(raw)).toMatchObject({ unsafe: [1], threshold: 0.9 });
    expect(parseClassifierLabels(raw, 0.2).threshold).toBe(0.2);
  });
  it('refuses configs it cannot interpret', () => {
    expect(() => parseClassifierLabels({ id2label: { 0: 'cat', 1: 'dog' } })).toThrow(/nsfw_labels/);
    expect(() => parseClassifierLabels({})).toThrow(/id2label/);
    expect(() => parseClassifierLabels({ id2label: { 0: 'a', 1: 'b' }, nsfw_labels: ['c'] })).toThrow(/not in id2label/);
    expect(() => judge([1, 2, 3], parseClassifierLabels({ id2label: { 0: 'normal', 1: 'nsfw' } }))).toThrow(/3 logits/);
  });
});

describe('runSafetyCheck', () => {
  const fake = (flags: boolean[], probs?: number[]): SafetyChecker => ({
    name: 'fake',
    layout: 'image-classifier',
    check: async (imgs) => imgs.map((_, i) => ({ nsfw: flags[i]!, ...(probs ? { probability: probs[i]! } : {}) })),
  });
  const svc = (over: Partial<SafetyService>): SafetyService => ({ policy: 'report', action: 'black', ...over });
  const imgs = [gradient(32, 24), gradient(16, 16)];

  it('blacks out flagged images only and reports flags and probabilities', async () => {
    const r = await runSafetyCheck(svc({ checker: fake([true, false], [0.9, 0.1]) }), imgs, { enabled: true, action: 'config' });
    expect(r.images[0]!.data.every((v) => v === 0)).toBe(true);
    expect(r.images[0]).toMatchObject({ width: 32, height: 24 });
    expect(r.images[1]).toBe(imgs[1]);
    expect(r.report).toEqual({ has_nsfw_concepts: [true, false], safety_checked: [true, true], safety_model: 'fake', safety_action: 'black', probabilities: [0.9, 0.1] });
  });

  it('blurs when asked: same size, detail gone', async () => {
    const r = await runSafetyCheck(svc({ checker: fake([true, true]), action: 'blur' }), imgs, { enabled: true, action: 'config' });
    expect(r.report.safety_action).toBe('blur');
    expect(r.report.probabilities).toBeUndefined();
    const b = r.images[0]!;
    expect(b).toMatchObject({ width: 32, height: 24 });
    // The alternating blue column pattern (0/255) is averaged away.
    const blue = Array.from({ length: 32 }, (_, x) => b.data[(12 * 32 + x) * 3 + 2]!);
    expect(Math.max(...blue) - Math.min(...blue)).toBeLessThan(40);
    expect(b.data.some((v) => v !== 0)).toBe(true);
    // Per-request action overrides the config.
    const black = await runSafetyCheck(svc({ checker: fake([true, true]), action: 'blur' }), imgs, { enabled: true, action: 'black' });
    expect(black.images[1]!.data.every((v) => v === 0)).toBe(true);
  });

  it('keeps a solid image solid when blurring (normalised filters preserve flat colour)', () => {
    const out = obscureBlur(solid(40, 30, 77));
    expect(out.data.every((v) => v === 77)).toBe(true);
  });

  it('disabled: passes through and says so', async () => {
    const r = await runSafetyCheck(svc({ checker: fake([true, true]) }), imgs, { enabled: false, action: 'config' });
    expect(r.images).toBe(imgs);
    expect(r.report).toEqual({ has_nsfw_concepts: [false, false], safety_checked: [false, false], safety_skipped: 'disabled' });
  });

  it('no model, policy report: passes through with safety_checked false', async () => {
    const r = await runSafetyCheck(svc({}), imgs, { enabled: true, action: 'config' });
    expect(r.report).toEqual({ has_nsfw_concepts: [false, false], safety_checked: [false, false], safety_skipped: 'not_configured' });
  });

  it('no model, policy refuse; broken model under any policy: errors with stable codes', async () => {
    await expect(runSafetyCheck(svc({ policy: 'refuse' }), imgs, { enabled: true, action: 'config' })).rejects.toMatchObject({ code: 'safety_checker_unavailable' });
    await expect(runSafetyCheck(svc({ error: 'x is not a safety model folder' }), imgs, { enabled: true, action: 'config' })).rejects.toMatchObject({
      code: 'safety_model_invalid',
    });
    // Disabled never fails.
    await expect(runSafetyCheck(svc({ policy: 'refuse' }), imgs, { enabled: false, action: 'config' })).resolves.toBeTruthy();
  });
});

describe('service, status and refusal', () => {
  it('builds a working service from MASKFLOW_SAFETY_MODEL', async () => {
    const config = loadConfig({ MASKFLOW_SAFETY_MODEL: SD_CHECKER_DIR, MASKFLOW_SAFETY_ACTION: 'blur' });
    const s = createSafetyService(config, undefined, load);
    expect(s.checker?.layout).toBe('sd-safety-checker');
    expect(s.action).toBe('blur');
    const r = await runSafetyCheck(s, [solid(64, 64, 128)], { enabled: true, action: 'config' });
    expect(r.report.safety_checked).toEqual([true]);
    expect(r.report.has_nsfw_concepts).toHaveLength(1);
  });

  it('keeps a broken folder as an error instead of crashing the worker', () => {
    const s = createSafetyService(loadConfig({ MASKFLOW_SAFETY_MODEL: tmp() }), undefined, load);
    expect(s.checker).toBeUndefined();
    expect(s.error).toMatch(/not a safety model folder/);
  });

  it('reports status for /health', () => {
    expect(safetyStatus(loadConfig({}))).toEqual({ available: false, configured: false, policy: 'report', action: 'black' });
    expect(safetyStatus(loadConfig({ MASKFLOW_SAFETY_MODEL: CLASSIFIER_DIR, MASKFLOW_SAFETY_POLICY: 'refuse' }))).toEqual({
      available: true,
      configured: true,
      model: 'nsfw_image_classifier',
      layout: 'image-classifier',
      policy: 'refuse',
      action: 'black',
    });
    const broken = safetyStatus(loadConfig({ MASKFLOW_SAFETY_MODEL: tmp() }));
    expect(broken).toMatchObject({ available: false, configured: true });
    expect(broken.error).toMatch(/not a safety model folder/);
  });

  it('tells the REST layer when to refuse before queueing', () => {
    expect(safetyRefusal(loadConfig({}), true)).toBeUndefined();
    expect(safetyRefusal(loadConfig({ MASKFLOW_SAFETY_POLICY: 'refuse' }), true)?.code).toBe('safety_checker_unavailable');
    expect(safetyRefusal(loadConfig({ MASKFLOW_SAFETY_POLICY: 'refuse' }), false)).toBeUndefined();
    expect(safetyRefusal(loadConfig({ MASKFLOW_SAFETY_MODEL: SD_CHECKER_DIR, MASKFLOW_SAFETY_POLICY: 'refuse' }), true)).toBeUndefined();
    expect(safetyRefusal(loadConfig({ MASKFLOW_SAFETY_MODEL: tmp() }), true)?.code).toBe('safety_model_invalid');
  });

  it('reads MASKFLOW_SAFETY_THRESHOLD', () => {
    expect(loadConfig({ MASKFLOW_SAFETY_THRESHOLD: '0.3' }).safetyThreshold).toBe(0.3);
    expect(loadConfig({}).safetyThreshold).toBeUndefined();
  });
});
