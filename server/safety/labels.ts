// How a generic image classifier's output becomes a safety decision. Published NSFW detectors
// differ in label names and order ("normal"/"nsfw", "drawings"/"hentai"/"neutral"/"porn"/"sexy",
// "safe"/"unsafe"), so everything comes from config.json:
//   labels     id2label, in index order
//   unsafe     config.json `nsfw_labels` (list of label names) if present, else every label
//              matching /nsfw|porn|sexy|hentai|unsafe/i
//   threshold  override (MASKFLOW_SAFETY_THRESHOLD) > config.json `nsfw_threshold` > 0.5
// An image is flagged when the summed softmax probability of the unsafe labels is > threshold
// (strict, like the SD checker's `score > 0`; with two labels and 0.5 this equals argmax).
import { readFile } from 'node:fs/promises';

export const UNSAFE_LABEL = /nsfw|porn|sexy|hentai|unsafe/i;
export const DEFAULT_THRESHOLD = 0.5;

export interface ClassifierLabels {
  labels: string[];
  unsafe: number[];
  threshold: number;
}

export function parseClassifierLabels(raw: Record<string, unknown>, thresholdOverride?: number): ClassifierLabels {
  const id2label = raw.id2label as Record<string, unknown> | undefined;
  if (!id2label || typeof id2label !== 'object' || Object.keys(id2label).length < 2) {
    throw new Error('config.json: id2label with at least two labels is required for an image classifier');
  }
  const n = Object.keys(id2label).length;
  const labels: string[] = [];
  for (let i = 0; i < n; i++) {
    const l = id2label[String(i)];
    if (typeof l !== 'string') throw new Error(`config.json: id2label has no label for index ${i}`);
    labels.push(l);
  }
  let unsafe: number[];
  if (raw.nsfw_labels !== undefined) {
    if (!Array.isArray(raw.nsfw_labels)) throw new Error('config.json: nsfw_labels must be a list of label names');
    unsafe = raw.nsfw_labels.map((name) => {
      const i = labels.indexOf(String(name));
      if (i < 0) throw new Error(`config.json: nsfw_labels names "${String(name)}", which is not in id2label (${labels.join(', ')})`);
      return i;
    });
  } else {
    unsafe = labels.flatMap((l, i) => (UNSAFE_LABEL.test(l) ? [i] : []));
  }
  if (unsafe.length === 0) {
    throw new Error(`config.json: no label of ${labels.join(', ')} names unsafe content; set "nsfw_labels" to the unsafe label names`);
  }
  if (unsafe.length === labels.length) throw new Error('config.json: every label is unsafe; nothing could pass the check');
  const threshold = thresholdOverride ?? (raw.nsfw_threshold === undefined ? DEFAULT_THRESHOLD : Number(raw.nsfw_threshold));
  if (!Number.isFinite(threshold) || threshold < 0 || threshold >= 1) throw new Error(`safety threshold must be in [0, 1), got ${threshold}`);
  return { labels, unsafe, threshold };
}

export async function loadClassifierLabels(file: string, thresholdOverride?: number): Promise<ClassifierLabels> {
  const raw = JSON.parse(await readFile(file, 'utf8')) as Record<string, unknown>;
  return parseClassifierLabels(raw, thresholdOverride);
}

/** Numerically stable softmax in float64. */
export function softmax(logits: ArrayLike<number>): number[] {
  let max = -Infinity;
  for (let i = 0; i < logits.length; i++) max = Math.max(max, logits[i]!);
  const e = Array.from({ length: logits.length }, (_, i) => Math.exp(logits[i]! - max));
  const sum = e.reduce((a, b) => a + b, 0);
  return e.map((v) => v / sum);
}

export interface ClassifierVerdict {
  nsfw: boolean;
  /** Summed probability of the unsafe labels. */
  probability: number;
  /** id2label of the argmax. */
  label: string;
  probabilities: number[];
}

export function judge(logits: ArrayLike<number>, cfg: ClassifierLabels): ClassifierVerdict {
  if (logits.length !== cfg.labels.length) {
    throw new Error(`classifier returned ${logits.length} logits but config.json has ${cfg.labels.length} labels`);
  }
  const probabilities = softmax(logits);
  let arg = 0;
  for (let i = 1; i < probabilities.length; i++) if (logits[i]! > logits[arg]!) arg = i;
  const probability = cfg.unsafe.reduce((s, i) => s + probabilities[i]!, 0);
  return { nsfw: probability > cfg.threshold, probability, label: cfg.labels[arg]!, probabilities };
}
