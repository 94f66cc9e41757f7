// Keeps an expanded prompt within CLIP's 75 content tokens. Past that, SDXL's text encoders
// silently drop the tail, so we cut it ourselves at the last phrase boundary that fits
// (a whole phrase is worth more than half of one); a single over-long phrase is cut at
// a word boundary. We truncate rather than reprompt: a second round trip doubles the
// latency and the model may overshoot again.

/** Content tokens (without bos/eos) of a text, e.g. from the SDXL CLIP tokenizer. */
export type TokenCounter = (text: string) => number;

export const CLIP_CONTENT_TOKENS = 75;

export interface FitResult {
  text: string;
  tokens: number;
  truncated: boolean;
}

export function fitToTokens(text: string, count: TokenCounter, limit = CLIP_CONTENT_TOKENS): FitResult {
  const tokens = count(text);
  if (tokens <= limit) return { text, tokens, truncated: false };
  // Longest prefix ending at a phrase boundary (",", ";", ".") that fits.
  const boundaries: number[] = [];
  for (const m of text.matchAll(/[,;.](\s|$)/g)) boundaries.push(m.index!);
  let best: FitResult | undefined;
  for (const end of boundaries) {
    const cand = text.slice(0, end).trim();
    if (!cand) continue;
    const n = count(cand);
    if (n > limit) break;
    best = { text: cand, tokens: n, truncated: true };
  }
  if (best) return best;
  // No phrase fits: as many whole words as fit.
  const words = text.split(/\s+/);
  let lo = 0;
  let hi = words.length;
  while (lo < hi) {
    const mid = Math.ceil((lo + hi) / 2);
    if (count(words.slice(0, mid).join(' ')) <= limit) lo = mid;
    else hi = mid - 1;
  }
  const cut = words.slice(0, lo).join(' ').replace(/[,;.\s]+$/, '');
  return { text: cut, tokens: count(cut), truncated: true };
}
