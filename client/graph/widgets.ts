// Turns widget specs (widget-spec.ts) into LiteGraph widgets bound to node.properties.params.
// The params object holds only what the workflow sets: a widget shows the schema default until
// it is changed, so opening and saving a workflow leaves its params untouched.
import type { LGraphNode } from '@comfyorg/litegraph';
import type { IBaseWidget } from '@comfyorg/litegraph/dist/types/widgets';
import type { NodeProps } from './convert.js';
import { normaliseNumber, randomSeed, type NumberSpec, type WidgetSpec } from './widget-spec.js';

export interface ParamWidget {
  spec: WidgetSpec;
  widget: IBaseWidget;
  /** The seed's "randomize before each run" toggle. */
  randomize?: IBaseWidget;
}

type Props = NodeProps & { randomize?: Record<string, boolean> };

export function paramValue(node: LGraphNode, spec: WidgetSpec): unknown {
  const params = (node.properties as Props).params;
  return params && spec.name in params ? params[spec.name] : spec.default;
}

export function setParam(node: LGraphNode, name: string, value: unknown): void {
  const props = node.properties as Props;
  props.params = { ...(props.params ?? {}), [name]: value };
  node.onPropertyChanged?.('params', props.params);
  node.graph?.change();
}

/** Adds one widget per param to the node. */
export function addParamWidgets(node: LGraphNode, specs: WidgetSpec[]): ParamWidget[] {
  return specs.map((spec) => addParamWidget(node, spec));
}

function addParamWidget(node: LGraphNode, spec: WidgetSpec): ParamWidget {
  const shown = displayValue(spec, spec.default);
  let widget: IBaseWidget;
  switch (spec.kind) {
    case 'number':
    case 'seed': {
      widget = node.addWidget('number', spec.name, shown as number, (v: number) => {
        const n = normaliseNumber(spec, Number(v));
        widget.value = n;
        setParam(node, spec.name, n);
      }, numberOptions(spec)) as IBaseWidget;
      break;
    }
    case 'combo':
      widget = node.addWidget('combo', spec.name, shown as string, (v: string | number) => setParam(node, spec.name, v), { values: spec.values.map(String) }) as IBaseWidget;
      // Numeric enums: the combo shows strings, the param keeps the number.
      if (spec.values.some((v) => typeof v === 'number')) {
        widget.callback = (v: string) => setParam(node, spec.name, spec.values.find((x) => String(x) === String(v)) ?? v);
      }
      break;
    case 'toggle':
      widget = node.addWidget('toggle', spec.name, shown as boolean, (v: boolean) => setParam(node, spec.name, !!v), {}) as IBaseWidget;
      break;
    case 'text':
      widget = node.addWidget('text', spec.name, shown as string, (v: string) => setParam(node, spec.name, String(v)), { multiline: spec.multiline }) as IBaseWidget;
      break;
    case 'json':
      widget = node.addWidget('text', spec.name, shown as string, (v: string) => {
        try {
          setParam(node, spec.name, JSON.parse(String(v)));
        } catch {
          widget.value = JSON.stringify(paramValue(node, spec));
        }
      }, { multiline: true }) as IBaseWidget;
      break;
  }
  widget.label = spec.label;
  widget.tooltip = spec.tooltip;
  const result: ParamWidget = { spec, widget };
  if (spec.kind === 'seed') {
    const toggle = node.addWidget('toggle', `${spec.name}:randomize`, false, (v: boolean) => {
      const props = node.properties as Props;
      props.randomize = { ...(props.randomize ?? {}), [spec.name]: !!v };
    }, { on: 'randomize each run', off: 'fixed' }) as IBaseWidget;
    toggle.label = `${spec.label}: new each run`;
    toggle.tooltip = 'Pick a new random seed before every run (the seed used is kept in the workflow).';
    toggle.serialize = false;
    result.randomize = toggle;
  }
  return result;
}

/** Copies node.properties.params into the widgets (after loading). */
export function syncWidgets(node: LGraphNode, widgets: ParamWidget[]): void {
  const props = node.properties as Props;
  for (const w of widgets) {
    w.widget.value = displayValue(w.spec, paramValue(node, w.spec)) as never;
    if (w.randomize) w.randomize.value = props.randomize?.[w.spec.name] ?? false;
  }
}

/** Before a run: new seeds where "randomize" is on. Returns true when a param changed. */
export function randomizeSeeds(node: LGraphNode, widgets: ParamWidget[], random: () => number = Math.random): boolean {
  let changed = false;
  for (const w of widgets) {
    if (w.spec.kind !== 'seed' || !w.randomize?.value) continue;
    const seed = randomSeed(w.spec as NumberSpec, random);
    setParam(node, w.spec.name, seed);
    w.widget.value = seed;
    changed = true;
  }
  return changed;
}

function displayValue(spec: WidgetSpec, value: unknown): unknown {
  if (spec.kind === 'json') return JSON.stringify(value);
  if (spec.kind === 'combo') return String(value);
  if (spec.kind === 'text') return typeof value === 'string' ? value : String(value ?? '');
  return value;
}

function numberOptions(spec: NumberSpec): Record<string, unknown> {
  const o: Record<string, unknown> = { step: spec.step * 10, step2: spec.step, precision: spec.precision };
  if (spec.min !== undefined) o.min = spec.min;
  if (spec.max !== undefined) o.max = spec.max;
  return o;
}
