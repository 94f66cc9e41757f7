// The safety service a worker offers nodes (ctx.services.safety): one configured model
// folder, either layout, loaded lazily on first use and then reused.
import type { InferenceSession } from 'onnxruntime-node';
import type { RgbImage } from '../image/types.js';
import { classify, assertClassifierSession } from './classifier.js';
import { loadImageProcessor, preprocess, type ImageProcessor } from './image-processor.js';
import { judge, loadClassifierLabels, type ClassifierLabels } from './labels.js';
import { detectSafetyModel, type SafetyLayout, type SafetyModelFolder } from './model-folder.js';
import { assertSdCheckerSession, runSdChecker } from './sd-checker.js';

/** Creates (or returns a pooled) ORT session for a model file; the EP choice lives behind it. */
export type LoadSession = (modelPath: string) => Promise<InferenceSession>;

export interface SafetyVerdict {
  nsfw: boolean;
  /** Classifier only: summed probability of the unsafe labels. */
  probability?: number;
  /** Classifier only: the top label. */
  label?: string;
}

export interface SafetyChecker {
  readonly name: string;
  readonly layout: SafetyLayout;
  check(images: RgbImage[], signal?: AbortSignal): Promise<SafetyVerdict[]>;
}

interface Loaded {
  session: InferenceSession;
  processor: ImageProcessor;
  labels?: ClassifierLabels;
}

export class FolderSafetyChecker implements SafetyChecker {
  private loaded?: Promise<Loaded>;

  constructor(
    readonly folder: SafetyModelFolder,
    private readonly loadSession: LoadSession,
    private readonly thresholdOverride?: number,
  ) {}

  get name(): string {
    return this.folder.name;
  }

  get layout(): SafetyLayout {
    return this.folder.layout;
  }

  private load(): Promise<Loaded> {
    this.loaded ??= (async () => {
      const f = this.folder;
      const processor = await loadImageProcessor(f.preprocessorPath);
      const labels = f.configPath ? await loadClassifierLabels(f.configPath, this.thresholdOverride) : undefined;
      const session = await this.loadSession(f.modelPath);
      if (f.layout === 'sd-safety-checker') assertSdCheckerSession(session, f.modelPath);
      else assertClassifierSession(session, f.modelPath);
      return { session, processor, labels };
    })();
    // A failed load is retried on the next call (the file may have been fixed).
    this.loaded.catch(() => (this.loaded = undefined));
    return this.loaded;
  }

  async check(images: RgbImage[], signal?: AbortSignal): Promise<SafetyVerdict[]> {
    const { session, processor, labels } = await this.load();
    if (this.folder.layout === 'sd-safety-checker') {
      const out: SafetyVerdict[] = [];
      for (const img of images) {
        signal?.throwIfAborted();
        const r = await runSdChecker(session, preprocess(processor, img), img);
        out.push({ nsfw: r.nsfw });
      }
      return out;
    }
    const logits = await classify(session, images.map((img) => preprocess(processor, img)), signal);
    return logits.map((l) => {
      const v = judge(l, labels!);
      return { nsfw: v.nsfw, probability: v.probability, label: v.label };
    });
  }
}

/** Detects the folder's layout (throws a clear Error when it is neither) and returns a lazy checker. */
export function openSafetyChecker(dir: string, loadSession: LoadSession, thresholdOverride?: number): FolderSafetyChecker {
  return new FolderSafetyChecker(detectSafetyModel(dir), loadSession, thresholdOverride);
}
