import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { ClipTokenizer, buildBpeTables } from '../../server/sdxl/tokenizer.js';
import { countTokens } from '../../server/sdxl/token-count.js';
import { fixText, unescapeHtml } from '../../server/sdxl/text-fix.js';

const FIXTURES = join(import.meta.dirname, '..', 'fixtures');
const MODEL = join(FIXTURES, 'models', 'tiny-sdxl-inpaint');

interface Case {
  prompt: string;
  input_ids: number[];
  input_ids_2: number[];
  num_content_tokens: number;
  truncated: boolean;
  bpe_tokens: string[];
  ftfy_changes_text?: boolean;
  input_ids_without_ftfy?: number[];
}
const golden = JSON.parse(readFileSync(join(FIXTURES, 'tokenizer', 'clip_tokens.json'), 'utf8')) as { cases: Case[] };

function readIds(dir: string, file: string): number[] {
  const buf = readFileSync(join(dir, file));
  return Array.from(new BigInt64Array(buf.buffer, buf.byteOffset, buf.byteLength / 8), Number);
}

let tok1: ClipTokenizer;
let tok2: ClipTokenizer;
beforeAll(async () => {
  tok1 = await ClipTokenizer.fromDir(join(MODEL, 'tokenizer'));
  tok2 = await ClipTokenizer.fromDir(join(MODEL, 'tokenizer_2'));
});

describe('ClipTokenizer vs transformers slow CLIPTokenizer + ftfy (clip_tokens.json)', () => {
  it('has 42 golden prompts, 6 of them ftfy-sensitive', () => {
    expect(golden.cases).toHaveLength(42);
    expect(golden.cases.filter((c) => c.input_ids_without_ftfy).length).toBe(6);
  });

  for (const [i, c] of golden.cases.entries()) {
    it(`#${i} ${JSON.stringify(c.prompt).slice(0, 60)}`, () => {
      const a = tok1.encode(c.prompt);
      const b = tok2.encode(c.prompt);
      expect(a.ids).toEqual(c.input_ids);
      expect(b.ids).toEqual(c.input_ids_2);
      expect(a.numTokens).toBe(c.num_content_tokens);
      expect(a.truncated).toBe(c.truncated);
      expect(tok1.tokenize(c.prompt).slice(0, 80)).toEqual(c.bpe_tokens);
      if (c.input_ids_without_ftfy) expect(a.ids).not.toEqual(c.input_ids_without_ftfy);
    });
  }
});

describe('ClipTokenizer rules', () => {
  it('reads special and pad tokens from the config files', () => {
    expect([tok1.bosId, tok1.eosId, tok1.padId, tok1.maxLength, tok1.vocabSize]).toEqual([49406, 49407, 49407, 77, 49408]);
    expect([tok2.bosId, tok2.eosId, tok2.padId, tok2.vocabSize]).toEqual([49406, 49407, 0, 49408]);
    expect(tok1.encode('').ids).toEqual([49406, 49407, ...new Array(75).fill(49407)]);
    expect(tok2.encode('').ids).toEqual([49406, 49407, ...new Array(75).fill(0)]);
  });

  it('splits the pad token "!" only in tokenizer_2', () => {
    expect(tok1.tokenize('wow!!')).toEqual(['wow</w>', '!!</w>']);
    expect(tok2.tokenize('wow!!')).toEqual(['wow</w>', '!', '!']);
    expect(tok2.encode('wow!!').ids.slice(0, 5)).toEqual([49406, tok1.tokenToId('wow</w>'), 0, 0, 49407]);
  });

  it('truncates to bos + 75 + eos', () => {
    const long = Array.from({ length: 100 }, (_, i) => `w${i}`).join(' ');
    for (const t of [tok1, tok2]) {
      const e = t.encode(long);
      expect(e.ids).toHaveLength(77);
      expect(e.ids[0]).toBe(49406);
      expect(e.ids[76]).toBe(49407);
      expect(e.truncated).toBe(true);
      expect(e.numTokens).toBe(t.encodeContent(long).length);
      expect(e.ids.slice(1, 76)).toEqual(t.encodeContent(long).slice(0, 75));
    }
    const exact = tok1.encode(Array.from({ length: 75 }, () => 'cat').join(' '));
    expect(exact.truncated).toBe(false);
    expect(exact.numTokens).toBe(75);
  });

  it('literal special tokens in the prompt become their ids (case-sensitive)', () => {
    expect(tok1.encodeContent('a <|endoftext|> b')).toEqual([320, 49407, 321]);
    // Upper-case is not a special token in the raw text, but lowercasing + CLIP's regex map it back.
    expect(tok1.encodeContent('<|ENDOFTEXT|>')).toEqual([49407]);
  });

  it('adds textual-inversion tokens after the vocab and matches them in the raw text', async () => {
    const t1 = await ClipTokenizer.fromDir(join(MODEL, 'tokenizer'));
    const t2 = await ClipTokenizer.fromDir(join(MODEL, 'tokenizer_2'));
    for (const t of [t1, t2]) {
      expect(t.addTokens(['<tiny-ti>', '<tiny-ti>_1'])).toEqual([49408, 49409]);
      expect(t.addTokens(['<tiny-ti>'])).toEqual([49408]); // existing token keeps its id
      expect(t.vocabSize).toBe(49410);
      expect(t.expandAddedTokens('a photo of <tiny-ti> on a beach')).toBe('a photo of <tiny-ti> <tiny-ti>_1 on a beach');
      expect(t.encode('a photo of <tiny-ti> <tiny-ti>_1 on a beach').ids.slice(0, 10)).toEqual([
        49406, 320, 1125, 539, 49408, 49409, 525, 320, 2117, 49407,
      ]);
      expect(t.encodeContent('x<tiny-ti>_1y')).toEqual([...t.encodeContent('x'), 49409, ...t.encodeContent('y')]);
      expect(t.encodeContent('<TINY-TI>')).not.toContain(49408);
    }
    // the shared tokenizers loaded earlier are unaffected (tables are shared, added tokens are not)
    expect(tok1.vocabSize).toBe(49408);
    expect(tok1.tokenToId('<tiny-ti>')).toBeUndefined();
  });

  it('matches the prompt ids stored in every pipeline golden', async () => {
    const goldens = join(FIXTURES, 'goldens');
    const names = ['inpaint9_euler_s100', 'inpaint9_dpmpp2mk_s060', 'inpaint4_ddim_s080', 'inpaint9_euler_cfg1',
      'txt2img_base_euler', 'img2img_base_dpmpp2mk_s050', 'ti_tiny-ti_inpaint9_euler_s100'];
    for (const name of names) {
      const dir = join(goldens, name);
      const p = JSON.parse(readFileSync(join(dir, 'params.json'), 'utf8')) as { prompt: string; negative_prompt: string | null; tensors: Record<string, unknown> };
      let t1 = tok1;
      let t2 = tok2;
      if (name.startsWith('ti_')) {
        t1 = await ClipTokenizer.fromDir(join(MODEL, 'tokenizer'));
        t2 = await ClipTokenizer.fromDir(join(MODEL, 'tokenizer_2'));
        t1.addTokens(['<tiny-ti>', '<tiny-ti>_1']);
        t2.addTokens(['<tiny-ti>', '<tiny-ti>_1']);
      }
      expect(t1.encode(t1.expandAddedTokens(p.prompt)).ids, name).toEqual(readIds(dir, 'prompt_input_ids.bin'));
      expect(t2.encode(t2.expandAddedTokens(p.prompt)).ids, name).toEqual(readIds(dir, 'prompt_input_ids_2.bin'));
      if (p.tensors.negative_prompt_input_ids) {
        expect(t1.encode(p.negative_prompt ?? '').ids, name).toEqual(readIds(dir, 'negative_prompt_input_ids.bin'));
        expect(t2.encode(p.negative_prompt ?? '').ids, name).toEqual(readIds(dir, 'negative_prompt_input_ids_2.bin'));
      }
    }
  });

  it('builds tables from raw data and loads fast when cached', () => {
    const tables = buildBpeTables({ 'a</w>': 0, b: 1, 'ab</w>': 2, 'b</w>': 3, '<|startoftext|>': 4, '<|endoftext|>': 5 }, '#version: 0.2\na b</w>\n');
    const t = new ClipTokenizer({ tables, bos: '<|startoftext|>', eos: '<|endoftext|>', unk: '<|endoftext|>', pad: '<|endoftext|>' });
    expect(t.tokenize('ab b')).toEqual(['ab</w>', 'b</w>']);
    expect(t.encodeContent('ab zz')).toEqual([2, 5, 5]); // unknown symbols -> unk
  });

  it('reports a missing tokenizer folder clearly', async () => {
    await expect(ClipTokenizer.fromDir(join(FIXTURES, 'no-such-dir'))).rejects.toThrow(/cannot read tokenizer file .*vocab\.json/);
  });

  it('countTokens tokenises with both tokenizers of a model folder', async () => {
    const r = await countTokens(MODEL, 'hello, world!');
    expect(r.input_ids.slice(0, 6)).toEqual([49406, 3306, 267, 1002, 256, 49407]);
    expect(r.input_ids_2.slice(0, 7)).toEqual([49406, 3306, 267, 1002, 0, 49407, 0]);
    expect(r.num_tokens).toBe(4);
    expect(r.truncated).toBe(false);
    const t0 = performance.now();
    await countTokens(MODEL, 'again');
    expect(performance.now() - t0).toBeLessThan(500); // vocab/merges tables are cached by content
  });
});

describe('fixText (ftfy subset)', () => {
  it('unescapes HTML entities like ftfy', () => {
    expect(unescapeHtml('salt &amp; pepper &lt;3 &EACUTE;t&eacute; &#65;&#x42; &#128; &bogus; &#12ab;')).toBe(
      'salt & pepper <3 Été AB € &bogus; &#12ab;',
    );
    expect(fixText('a &amp; b')).toBe('a & b');
    // 'auto' mode: a segment containing '<' is treated as HTML and left alone, and so is what follows
    expect(fixText('<b> &amp;\nx &amp;')).toBe('<b> &amp;\nx &amp;');
    expect(fixText('x &amp;\n<b> &amp;')).toBe('x &\n<b> &amp;');
  });

  it('fixes quotes, ligatures, widths, C1 controls, control chars and normalises to NFC', () => {
    expect(fixText('“q” ‘s’ ﬁﬂ ＡＢ１　～')).toBe('"q" \'s\' fifl AB1 ~');
    expect(fixText('x\x93y\x94')).toBe('x"y"'); // C1 -> cp1252 curly quotes -> uncurled
    expect(fixText('a\x00b\ufeffc\x1b[31md')).toBe('abcd');
    expect(fixText('cafe\u0301')).toBe('caf\u00e9');
    expect(fixText('a\r\nb')).toBe('a\nb');
  });

  it('known difference: mojibake is not repaired (ftfy fix_encoding is not implemented)', () => {
    // ftfy.fix_text('cafÃ©') == 'café'; this implementation leaves it as typed.
    expect(fixText('cafÃ©')).toBe('cafÃ©');
  });
});
