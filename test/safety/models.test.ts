// The two fixture safety models through the real ORT sessions, against the PyTorch goldens.
import path from 'node:path';
import ort from 'onnxruntime-node';
import { beforeAll, describe, expect, it } from 'vitest';
import type { InferenceSession } from 'onnxruntime-node';
import { openSafetyChecker, type LoadSession } from '../../server/safety/checker.js';
import { classify } from '../../server/safety/classifier.js';
import { loadImageProcessor, preprocess } from '../../server/safety/image-processor.js';
import { judge, loadClassifierLabels } from '../../server/safety/labels.js';
import { runSdChecker } from '../../server/safety/sd-checker.js';
import type { RgbImage } from '../../server/image/types.js';
import { CASES, CLASSIFIER_DIR, SD_CHECKER_DIR, caseDir, meta, readF32, readPng } from './fixtures.js';

const load: LoadSession = (p) => ort.InferenceSession.create(p, { executionProviders: ['cpu'], logSeverityLevel: 3 });

let images: RgbImage[];
beforeAll(async () => {
  images = await Promise.all(CASES.map((c) => readPng(path.join(caseDir(c.name), 'image.png'))));
});

describe('diffusers safety_checker export (batch 1 per image)', () => {
  let session: InferenceSession;
  beforeAll(async () => {
    session = await load(path.join(SD_CHECKER_DIR, 'safety_checker/model.onnx'));
  });

  it.each(CASES.map((c, i) => [c.name, i] as const))('%s: flag and out_images match the goldens', async (name, i) => {
    const clip = await loadImageProcessor(path.join(SD_CHECKER_DIR, 'feature_extractor/preprocessor_config.json'));
    const r = await runSdChecker(session, preprocess(clip, images[i]!), images[i]!);
    const m = meta(name).safety_checker;
    expect(r.nsfw).toBe(m.outputs.has_nsfw_concepts[0]);
    expect(r.nsfw).toBe(CASES[i]!.has_nsfw_concepts);
    // out_images.png = round(out_images * 255): black when flagged, else the input.
    const golden = await readPng(path.join(caseDir(name), 'out_images.png'));
    const rounded = Uint8Array.from(r.outImage, (v) => Math.round(v * 255));
    expect(Buffer.from(rounded).equals(Buffer.from(golden.data))).toBe(true);
    expect(m.outputs.out_images.equals).toBe(r.nsfw ? 'zeros' : 'images');
  });

  it('the checker service reports one flag per image for a whole batch (run per image)', async () => {
    const checker = openSafetyChecker(SD_CHECKER_DIR, load);
    expect(checker.layout).toBe('sd-safety-checker');
    const v = await checker.check(images);
    expect(v.map((x) => x.nsfw)).toEqual(CASES.map((c) => c.has_nsfw_concepts));
    expect(v.every((x) => x.probability === undefined)).toBe(true);
  });
});

describe('generic image classifier', () => {
  let session: InferenceSession;
  beforeAll(async () => {
    session = await load(path.join(CLASSIFIER_DIR, 'model.onnx'));
  });

  it.each(CASES.map((c, i) => [c.name, i] as const))('%s: logits within 1e-4, label exact', async (name, i) => {
    const vit = await loadImageProcessor(path.join(CLASSIFIER_DIR, 'preprocessor_config.json'));
    const labels = await loadClassifierLabels(path.join(CLASSIFIER_DIR, 'config.json'));
    const [logits] = await classify(session, [preprocess(vit, images[i]!)]);
    const golden = readF32(path.join(caseDir(name), 'logits.bin'));
    for (let k = 0; k < 2; k++) expect(Math.abs(logits![k]! - golden[k]!)).toBeLessThan(1e-4);
    const v = judge(logits!, labels);
    const m = meta(name).nsfw_classifier;
    expect(v.label).toBe(m.label);
    expect(v.nsfw).toBe(m.label === 'nsfw');
    expect(Math.abs(v.probability - m.probabilities[1])).toBeLessThan(1e-4);
  });

  it('batch of 6 equals the batch golden', async () => {
    const vit = await loadImageProcessor(path.join(CLASSIFIER_DIR, 'preprocessor_config.json'));
    const logits = await classify(session, images.map((img) => preprocess(vit, img)));
    const golden = readF32(path.join(caseDir('batch_classifier'), 'logits.bin'));
    expect(logits).toHaveLength(6);
    logits.forEach((l, i) => {
      for (let k = 0; k < 2; k++) expect(Math.abs(l[k]! - golden[i * 2 + k]!)).toBeLessThan(1e-4);
    });
  });

  it('the checker service flags by probability and reports it', async () => {
    const checker = openSafetyChecker(CLASSIFIER_DIR, load);
    expect(checker.layout).toBe('image-classifier');
    const v = await checker.check(images);
    expect(v.map((x) => x.label)).toEqual(CASES.map((c) => c.classifier_label));
    expect(v.map((x) => x.nsfw)).toEqual(CASES.map((c) => c.classifier_label === 'nsfw'));
    v.forEach((x, i) => expect(Math.abs(x.probability! - CASES[i]!.classifier_probabilities[1])).toBeLessThan(1e-4));
  });

  it('a threshold override changes decisions', async () => {
    // img0 has P(nsfw) = 0.144: flagged at threshold 0.1, img4 (0.058) is not.
    const checker = openSafetyChecker(CLASSIFIER_DIR, load, 0.1);
    const v = await checker.check([images[0]!, images[4]!]);
    expect(v.map((x) => x.nsfw)).toEqual([true, false]);
  });
});
