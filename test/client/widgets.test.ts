import { beforeAll, describe, expect, it } from 'vitest';
import { LiteGraph } from '@comfyorg/litegraph';
import { normaliseNumber, randomSeed, widgetSpecs, type NumberSpec } from '../../client/graph/widget-spec.js';
import { MaskflowNode, registerCatalogue } from '../../client/graph/register.js';
import { randomizeSeeds } from '../../client/graph/widgets.js';
import type { Catalogue } from '../../client/types.js';
import { toyCatalogue } from './helpers.js';

let cat: Catalogue;
beforeAll(async () => {
  cat = await toyCatalogue();
  registerCatalogue(cat);
});

const denoise = () => cat.nodes.find((n) => n.type === 'sampling/denoise')!;

describe('widget specs from JSON Schema', () => {
  it('maps each param type to a widget', () => {
    const specs = Object.fromEntries(widgetSpecs(denoise().params).map((s) => [s.name, s]));
    expect(specs.steps).toMatchObject({ kind: 'number', integer: true, min: 1, max: 150, step: 1, precision: 0, default: 25, tooltip: 'Denoising steps' });
    expect(specs.cfg).toMatchObject({ kind: 'number', integer: false, min: 0, max: 30, step: 0.5, precision: 1, default: 7.5 });
    expect(specs.strength).toMatchObject({ kind: 'number', step: 0.01, precision: 2 });
    expect(specs.seed).toMatchObject({ kind: 'seed', integer: true, min: 0, max: 4294967295 });
    expect(specs.scheduler).toMatchObject({ kind: 'combo', values: ['euler', 'ddim'], default: 'euler' });
    expect(specs.prompt).toMatchObject({ kind: 'text', multiline: true });
    expect(specs.tag).toMatchObject({ kind: 'text', multiline: false, default: 'x' });
    expect(specs.tiled).toMatchObject({ kind: 'toggle', default: false });
    expect(specs.extra).toMatchObject({ kind: 'json', default: [] });
  });

  it('reads plain enums too', () => {
    expect(widgetSpecs({ type: 'object', properties: { mode: { type: 'string', enum: ['a', 'b'], default: 'b' } } })[0]).toMatchObject({ kind: 'combo', values: ['a', 'b'], default: 'b' });
  });

  it('clamps and rounds numbers to the schema', () => {
    const specs = widgetSpecs(denoise().params);
    const steps = specs.find((s) => s.name === 'steps') as NumberSpec;
    const cfg = specs.find((s) => s.name === 'cfg') as NumberSpec;
    expect(normaliseNumber(steps, 0)).toBe(1);
    expect(normaliseNumber(steps, 12.6)).toBe(13);
    expect(normaliseNumber(steps, 999)).toBe(150);
    expect(normaliseNumber(cfg, 7.5000001)).toBe(7.5);
    const seed = specs.find((s) => s.name === 'seed') as NumberSpec;
    expect(randomSeed(seed, () => 0)).toBe(0);
    expect(randomSeed(seed, () => 0.9999999999)).toBe(4294967295);
  });
});

describe('LiteGraph node classes', () => {
  it('have typed ports, widgets with options, and write params on change', () => {
    const node = LiteGraph.createNode('sampling/denoise') as MaskflowNode;
    expect(node.inputs.map((i) => [i.name, i.type])).toEqual([['image', 'IMAGE'], ['mask', 'MASK']]);
    expect(node.outputs.map((o) => [o.name, o.type])).toEqual([['image', 'IMAGE']]);
    const w = Object.fromEntries(node.widgets!.map((x) => [x.name, x]));
    expect(w.steps!.type).toBe('number');
    expect(w.steps!.options).toMatchObject({ min: 1, max: 150, step2: 1 });
    expect(w.scheduler!.type).toBe('combo');
    expect(w.scheduler!.options.values).toEqual(['euler', 'ddim']);
    expect(w.tiled!.type).toBe('toggle');
    expect(w.prompt!.type).toBe('text');
    expect(w.prompt!.options.multiline).toBe(true);
    expect(w['seed:randomize']!.type).toBe('toggle');
    expect(w.steps!.tooltip).toBe('Denoising steps');
    expect(node.props.params).toBeUndefined();
    w.steps!.callback!(300.4);
    expect(node.props.params).toEqual({ steps: 150 });
    expect(w.steps!.value).toBe(150);
    w.scheduler!.callback!('ddim');
    expect(node.props.params).toEqual({ steps: 150, scheduler: 'ddim' });
    w.extra!.callback!('[1,2]');
    expect(node.props.params!.extra).toEqual([1, 2]);
  });

  it('show stored params after configure and randomize seeds on request', () => {
    const node = LiteGraph.createNode('sampling/denoise') as MaskflowNode;
    node.configure({ ...node.serialize(), properties: { id: 'den', params: { seed: 42, cfg: 3 } } });
    const w = Object.fromEntries(node.widgets!.map((x) => [x.name, x]));
    expect(w.seed!.value).toBe(42);
    expect(w.cfg!.value).toBe(3);
    expect(w.steps!.value).toBe(25);
    expect(randomizeSeeds(node, node.paramWidgets, () => 0.5)).toBe(false);
    w['seed:randomize']!.callback!(true);
    w['seed:randomize']!.value = true;
    expect(randomizeSeeds(node, node.paramWidgets, () => 0.5)).toBe(true);
    expect(node.props.params!.seed).toBe(2147483648);
  });
});
