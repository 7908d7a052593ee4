// A small sentencepiece-style Unigram tokenizer in the Hugging Face tokenizer.json format T5 ships:
// `<pad>`=0, `</s>`=1, `<unk>`=2, pieces with the ▁ word-start marker, `</s>` appended to every input.
// It covers English letters, digits and punctuation, so any English text encodes.
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';

const commonWords = (
  'the of and to in a is that for it as was with be by on not he this are or his from at which but have an they you were ' +
  'her she there been one all we their has would more if will when who what its new said about up out year years people ' +
  'government president minister company market price prices report reported police court city state world first last after ' +
  'over two three million percent news week day time may can also could than into some other most market team game win'
)
  .split(' ')
  .filter((w, i, all) => w && all.indexOf(w) === i);

const commonPieces = ['ing', 'ed', 'er', 'es', 'ly', 'tion', 's', 'en', 'al', 're', 'th', 'an', 'on', 'in', 'at', 'or', 'ent', 'ers', 'est'];

/** The pieces with their Unigram log-probabilities; longer pieces score better per character. */
export function t5TokenizerVocab(vocabSize: number): [string, number][] {
  const vocab: [string, number][] = [
    ['<pad>', 0],
    ['</s>', 0],
    ['<unk>', 0],
  ];
  const seen = new Set(vocab.map(([p]) => p));
  const add = (piece: string, score: number) => {
    if (seen.has(piece) || vocab.length >= vocabSize) return;
    seen.add(piece);
    vocab.push([piece, score]);
  };
  add('▁', -6);
  const letters = 'abcdefghijklmnopqrstuvwxyz';
  const chars = `${letters}${letters.toUpperCase()}0123456789.,;:!?'"()-–—/&%$€£@#*+=[]_<>|~\`^{}\\`;
  for (const c of chars) add(c, -10);
  for (const c of `${letters}${letters.toUpperCase()}0123456789`) add(`▁${c}`, -9);
  for (const w of commonWords) add(`▁${w}`, -4 - w.length * 0.1);
  for (const p of commonPieces) add(p, -6 - p.length * 0.1);
  // Filler pieces up to the model's vocabulary, so every id the model can emit decodes.
  for (let i = 0; vocab.length < vocabSize; i++) add(`▁tok${i}`, -20);
  return vocab;
}

/** tokenizer.json content for {@link t5TokenizerVocab}. */
export function t5TokenizerJson(vocabSize: number): Record<string, unknown> {
  const special = (id: number, content: string) => ({ id, content, single_word: false, lstrip: false, rstrip: false, normalized: false, special: true });
  const metaspace = { type: 'Metaspace', replacement: '▁', add_prefix_space: true, prepend_scheme: 'always', split: true };
  return {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: [special(0, '<pad>'), special(1, '</s>'), special(2, '<unk>')],
    normalizer: {
      type: 'Sequence',
      normalizers: [{ type: 'NFKC' }, { type: 'Replace', pattern: { Regex: ' {2,}' }, content: ' ' }],
    },
    pre_tokenizer: { type: 'Sequence', pretokenizers: [{ type: 'WhitespaceSplit' }, metaspace] },
    post_processor: {
      type: 'TemplateProcessing',
      single: [{ Sequence: { id: 'A', type_id: 0 } }, { SpecialToken: { id: '</s>', type_id: 0 } }],
      pair: [{ Sequence: { id: 'A', type_id: 0 } }, { SpecialToken: { id: '</s>', type_id: 0 } }, { Sequence: { id: 'B', type_id: 0 } }, { SpecialToken: { id: '</s>', type_id: 0 } }],
      special_tokens: { '</s>': { id: '</s>', ids: [1], tokens: ['</s>'] } },
    },
    decoder: metaspace,
    model: { type: 'Unigram', unk_id: 2, vocab: t5TokenizerVocab(vocabSize), byte_fallback: false },
  };
}

/** Writes tokenizer.json, tokenizer_config.json and special_tokens_map.json into `dir`. */
export async function writeT5Tokenizer(dir: string, options: { vocabSize: number; modelMaxLength?: number }): Promise<void> {
  await writeFile(join(dir, 'tokenizer.json'), JSON.stringify(t5TokenizerJson(options.vocabSize)));
  const tokens = { eos_token: '</s>', pad_token: '<pad>', unk_token: '<unk>' };
  await writeFile(
    join(dir, 'tokenizer_config.json'),
    JSON.stringify({ tokenizer_class: 'T5Tokenizer', model_max_length: options.modelMaxLength ?? 512, extra_ids: 0, additional_special_tokens: [], ...tokens }, null, 2),
  );
  await writeFile(join(dir, 'special_tokens_map.json'), JSON.stringify(tokens, null, 2));
}
