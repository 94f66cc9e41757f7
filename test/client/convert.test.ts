import { beforeAll, describe, expect, it } from 'vitest';
import { LGraph, LiteGraph } from '@comfyorg/litegraph';
import { fromLiteGraph, toLiteGraph } from '../../client/graph/convert.js';
import { registerCatalogue } from '../../client/graph/register.js';
import type { Catalogue, Workflow } from '../../client/types.js';
import { toyCatalogue } from './helpers.js';

let cat: Catalogue;
beforeAll(async () => {
  cat = await toyCatalogue();
  registerCatalogue(cat);
});

const full: Workflow = {
  $schema: 'https://maskflow.dev/schemas/workflow.json',
  version: 1,
  name: 'toy',
  description: 'A toy workflow',
  inputs: { offset: { node: 'sum', param: 'offset', description: 'added' }, both: { targets: [{ node: 'a', param: 'value' }, { node: 'b', param: 'value' }] } },
  nodes: {
    a: { type: 'toy/constant', params: { value: 2 } },
    b: { type: 'toy/constant', title: 'Second', params: { value: 3 } },
    sum: { type: 'toy/add', inputs: { a: ['a', 'value'], b: ['b', 'value'] }, params: { offset: 1 } },
    out: { type: 'toy/sink', params: {}, inputs: { value: ['sum', 'sum'] } },
  },
  ui: {
    nodes: { a: { pos: [0, 0], size: [260, 80] }, b: { pos: [0, 150.5] }, sum: { pos: [340, 40], collapsed: true }, out: { pos: [700, 40], color: '#223' } },
    groups: [{ title: 'Inputs', bounding: [-20, -60, 320, 320] }],
    viewport: { offset: [10, 20], scale: 0.8 },
    note: 'kept',
  },
};

describe('workflow <-> LiteGraph conversion', () => {
  it('round-trips a workflow with layout, titles and public inputs exactly (key order too)', () => {
    const back = fromLiteGraph(toLiteGraph(full, cat), cat);
    expect(back).toEqual(full);
    expect(JSON.stringify(back)).toBe(JSON.stringify(full));
  });

  it('round-trips a workflow without ui without adding one', () => {
    const bare: Workflow = { version: 1, nodes: { k: { type: 'toy/constant' }, s: { inputs: { value: ['k', 'value'] }, type: 'toy/sink' } } };
    const lg = toLiteGraph(bare, cat);
    expect(JSON.stringify(fromLiteGraph(lg, cat))).toBe(JSON.stringify(bare));
    // auto layout: the sink sits in the column right of its source
    expect(lg.nodes[1]!.pos[0]).toBeGreaterThan(lg.nodes[0]!.pos[0]);
  });

  it('maps links to LiteGraph slots by port name', () => {
    const lg = toLiteGraph(full, cat);
    const ids = lg.nodes.map((n) => (n.properties as { id: string }).id);
    const sum = lg.nodes[ids.indexOf('sum')]!;
    expect(sum.inputs!.map((i) => i.name)).toEqual(['a', 'b']);
    const link = lg.links.find((l) => l[0] === sum.inputs![1]!.link)!;
    expect(link).toEqual([link[0], ids.indexOf('b') + 1, 0, ids.indexOf('sum') + 1, 1, 'INT']);
    expect(lg.nodes[ids.indexOf('b')]!.outputs![0]!.links).toEqual([link[0]]);
    expect(lg.nodes[ids.indexOf('b')]!.title).toBe('Second');
    expect(lg.nodes[ids.indexOf('a')]!.title).toBe('Constant');
  });

  it('keeps unknown node types and links to missing nodes', () => {
    const odd: Workflow = {
      version: 1,
      nodes: {
        x: { type: 'future/thing', params: { q: [1, 2] } },
        y: { type: 'toy/sink', inputs: { value: ['x', 'result'] } },
        z: { type: 'toy/add', inputs: { a: ['ghost', 'value'] } },
      },
    };
    const lg = toLiteGraph(odd, cat);
    expect(lg.nodes[0]!.outputs!.map((o) => o.name)).toEqual(['result']);
    expect(fromLiteGraph(lg, cat)).toEqual(odd);
  });

  it('survives a real LGraph configure/serialize cycle unchanged', () => {
    const graph = new LGraph();
    graph.configure(toLiteGraph(full, cat));
    expect(graph.nodes.length).toBe(4);
    expect(graph.links.size).toBe(3);
    expect(fromLiteGraph(graph.serialize() as never, cat)).toEqual(full);
  });

  it('records edits: moved nodes, new nodes get readable ids, deleted nodes take their links and public inputs', () => {
    const graph = new LGraph();
    graph.configure(toLiteGraph(full, cat));
    const byId = (id: string) => graph.nodes.find((n) => (n.properties as { id?: string }).id === id)!;
    byId('a').pos = [50, 60];
    graph.remove(byId('b'));
    const extra = LiteGraph.createNode('toy/constant')!;
    graph.add(extra);
    extra.connect(0, byId('sum'), 1);
    const wf = fromLiteGraph(graph.serialize() as never, cat);
    expect(Object.keys(wf.nodes)).toEqual(['a', 'sum', 'out', 'constant']);
    expect(wf.nodes.sum!.inputs).toEqual({ a: ['a', 'value'], b: ['constant', 'value'] });
    expect(wf.nodes.constant).toEqual({ type: 'toy/constant' });
    expect(wf.inputs).toEqual({ offset: full.inputs!.offset, both: { targets: [{ node: 'a', param: 'value' }] } });
    const ui = wf.ui as { nodes: Record<string, { pos: number[]; size?: number[] }>; note: string; groups: unknown[] };
    expect(ui.nodes.a!.pos).toEqual([50, 60]);
    expect(ui.nodes.constant!.size!.length).toBe(2);
    expect(ui.note).toBe('kept');
    expect(ui.groups).toEqual(full.ui && (full.ui as { groups: unknown[] }).groups);
    // and that edited workflow round-trips exactly again
    expect(fromLiteGraph(toLiteGraph(wf, cat), cat)).toEqual(wf);
  });

  it('refuses links between different port types in LiteGraph', () => {
    const graph = new LGraph();
    const k = LiteGraph.createNode('toy/constant')!; // INT out
    const d = LiteGraph.createNode('sampling/denoise')!; // IMAGE, MASK in
    graph.add(k);
    graph.add(d);
    expect(k.connect(0, d, 0)).toBeNull();
    const img = LiteGraph.createNode('image/load-image')!;
    graph.add(img);
    expect(img.connect(0, d, 0)).not.toBeNull();
    expect(img.connect(1, d, 0)).toBeNull();
  });
});
