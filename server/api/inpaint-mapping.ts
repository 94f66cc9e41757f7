// The one place that says how the flat /v1/inpaint body maps onto the public inputs of
// workflows/sdxl-inpaint.json. Only inputs the workflow declares are set; a parameter the
// client set explicitly whose input the workflow lacks is refused rather than ignored.
import { IMAGE_SIZE_PRESETS, type ImageSizePreset, type InpaintRequest } from './inpaint-schema.js';
import type { Workflow } from '../engine/workflow.js';
import { unprocessable } from '../http-errors.js';

type Value = unknown;

interface Mapping {
  /** Flat request field. */
  field: keyof InpaintRequest;
  /** Workflow public input(s) it sets. */
  inputs: string[];
  /** Values for those inputs (default: the field's value for the single input). */
  map?: (value: Value) => Record<string, Value>;
  /**
   * When the workflow does not declare the input: set this param on every node of this
   * type instead (output format is a property of the save node in any inpaint workflow).
   */
  fallback?: { nodeType: string; param: string };
}

export const INPAINT_MAPPING: readonly Mapping[] = [
  { field: 'prompt', inputs: ['prompt'] },
  { field: 'negative_prompt', inputs: ['negative_prompt'] },
  { field: 'image_url', inputs: ['image'] },
  { field: 'mask_url', inputs: ['mask'] },
  { field: 'strength', inputs: ['strength'] },
  { field: 'num_inference_steps', inputs: ['steps'] },
  { field: 'guidance_scale', inputs: ['guidance'] },
  { field: 'seed', inputs: ['seed'] },
  { field: 'num_images', inputs: ['num_images'] },
  {
    field: 'image_size',
    inputs: ['width', 'height'],
    map: (v) => (typeof v === 'string' ? { ...IMAGE_SIZE_PRESETS[v as ImageSizePreset] } : { width: (v as { width: number }).width, height: (v as { height: number }).height }),
  },
  { field: 'scheduler', inputs: ['scheduler'] },
  { field: 'model', inputs: ['model'] },
  {
    field: 'loras',
    inputs: ['loras'],
    map: (v) => ({ loras: (v as Array<{ path: string; scale?: number }>).map((l) => ({ path: l.path, scale: l.scale ?? 1 })) }),
  },
  { field: 'embeddings', inputs: ['embeddings'] },
  {
    field: 'controlnets',
    inputs: ['controlnets'],
    map: (v) => ({
      controlnets: (v as Array<{ path: string; control_image_url: string; conditioning_scale?: number; start?: number; end?: number; inpaint_control?: boolean }>).map((c) => ({
        path: c.path,
        control_image_url: c.control_image_url,
        conditioning_scale: c.conditioning_scale ?? 1,
        start: c.start ?? 0,
        end: c.end ?? 1,
        inpaint_control: c.inpaint_control ?? false,
      })),
    }),
  },
  { field: 'expand_prompt', inputs: ['expand_prompt'] },
  { field: 'enable_safety_checker', inputs: ['enable_safety_checker'] },
  { field: 'format', inputs: ['format'], fallback: { nodeType: 'image/save-image', param: 'format' } },
];

/** Which flat field a workflow input (as named in validation problems) came from. */
export function fieldForInput(input: string): string | undefined {
  return INPAINT_MAPPING.find((m) => m.inputs.includes(input))?.field;
}

export interface MappedRequest {
  inputs: Record<string, Value>;
  /** The workflow to run: the original, or a copy with fallback params applied. */
  workflow: Workflow;
}

/**
 * Builds the workflow inputs. `explicit` is the set of fields the client sent (before
 * defaults were filled in), so defaults for features this server lacks are skipped silently.
 */
export function mapInpaintRequest(req: InpaintRequest, workflow: Workflow, explicit: ReadonlySet<string>): MappedRequest {
  const declared = new Set(Object.keys(workflow.inputs ?? {}));
  const inputs: Record<string, Value> = {};
  let wf = workflow;
  for (const m of INPAINT_MAPPING) {
    const value = req[m.field];
    if (value === undefined) continue;
    const missing = m.inputs.filter((i) => !declared.has(i));
    const fallbackNodes = m.fallback ? Object.values(wf.nodes).filter((n) => n.type === m.fallback!.nodeType) : [];
    if (missing.length && fallbackNodes.length) {
      if (wf === workflow) wf = structuredClone(workflow);
      for (const node of Object.values(wf.nodes)) {
        if (node.type === m.fallback!.nodeType) node.params = { ...(node.params ?? {}), [m.fallback!.param]: value };
      }
      continue;
    }
    if (missing.length) {
      const isEmptyList = Array.isArray(value) && value.length === 0;
      if (explicit.has(m.field) && !isEmptyList && !(m.field === 'enable_safety_checker' && value === false) && !(m.field === 'expand_prompt' && value === false)) {
        throw unprocessable('unsupported_parameter', `this server's inpaint workflow does not support ${m.field} (it has no "${missing.join('", "')}" input)`, m.field);
      }
      continue;
    }
    Object.assign(inputs, m.map ? m.map(value) : { [m.inputs[0]!]: value });
  }
  return { inputs, workflow: wf };
}
