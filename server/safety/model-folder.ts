// Recognises the two safety-model layouts a server meets in MASKFLOW_SAFETY_MODEL:
//  - 'sd-safety-checker': diffusers' StableDiffusionSafetyChecker export. The folder holds
//    safety_checker/model.onnx + feature_extractor/preprocessor_config.json (the fixture layout,
//    or an SD 1.x ONNX pipeline root), or is the safety_checker/ folder itself with the
//    feature_extractor/ next to it.
//  - 'image-classifier': a flat Optimum image-classification export: model.onnx (or onnx/model.onnx)
//    + config.json (id2label) + preprocessor_config.json.
// Only cheap file checks here: the main thread calls this for /health.
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';

export type SafetyLayout = 'sd-safety-checker' | 'image-classifier';

export interface SafetyModelFolder {
  layout: SafetyLayout;
  /** The folder as configured. */
  dir: string;
  /** Display name (folder basename). */
  name: string;
  modelPath: string;
  preprocessorPath: string;
  /** config.json of the classifier (labels, threshold); absent for the SD checker. */
  configPath?: string;
}

function isFile(p: string): boolean {
  return existsSync(p);
}

function architectures(configPath: string): string[] {
  try {
    const raw = JSON.parse(readFileSync(configPath, 'utf8')) as { architectures?: unknown };
    return Array.isArray(raw.architectures) ? raw.architectures.map(String) : [];
  } catch {
    return [];
  }
}

/** Throws an Error naming what is missing when the folder is neither layout. */
export function detectSafetyModel(dir: string): SafetyModelFolder {
  const name = path.basename(dir);
  if (!existsSync(dir)) throw new Error(`safety model folder ${dir} does not exist`);

  const sdModel = path.join(dir, 'safety_checker', 'model.onnx');
  const sdPre = path.join(dir, 'feature_extractor', 'preprocessor_config.json');
  if (isFile(sdModel)) {
    if (!isFile(sdPre)) throw new Error(`${dir} has safety_checker/model.onnx but no feature_extractor/preprocessor_config.json`);
    return { layout: 'sd-safety-checker', dir, name, modelPath: sdModel, preprocessorPath: sdPre };
  }

  const flatModel = [path.join(dir, 'model.onnx'), path.join(dir, 'onnx', 'model.onnx')].find(isFile);
  const config = path.join(dir, 'config.json');
  if (flatModel && isFile(config) && architectures(config).includes('StableDiffusionSafetyChecker')) {
    // Pointed at the safety_checker/ folder of a pipeline: its feature_extractor is a sibling.
    const pre = [path.join(dir, 'preprocessor_config.json'), path.join(dir, '..', 'feature_extractor', 'preprocessor_config.json')].find(isFile);
    if (!pre) throw new Error(`${dir} is a StableDiffusionSafetyChecker but no preprocessor_config.json was found here or in ../feature_extractor`);
    return { layout: 'sd-safety-checker', dir, name, modelPath: flatModel, preprocessorPath: pre };
  }

  if (flatModel) {
    const pre = path.join(dir, 'preprocessor_config.json');
    const missing = [config, pre].filter((p) => !isFile(p)).map((p) => path.basename(p));
    if (missing.length) throw new Error(`image classifier folder ${dir} lacks ${missing.join(' and ')}`);
    return { layout: 'image-classifier', dir, name, modelPath: flatModel, preprocessorPath: pre, configPath: config };
  }

  throw new Error(
    `${dir} is not a safety model folder: expected safety_checker/model.onnx + feature_extractor/preprocessor_config.json ` +
      '(diffusers safety checker) or model.onnx + config.json + preprocessor_config.json (image classifier)',
  );
}
