import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { CuratorError } from '@curator/contracts';
import { BertweetTokenizer, demojizeCodePoint, loadTokenizer, tweetTokenize } from '../src/index.ts';

// A tiny BERTweet vocabulary. Ids: <s>=0, <pad>=1, </s>=2, <unk>=3, then these lines from 4, <mask> last (17).
const VOCAB = [
  'hel@@', // 4
  'lo', // 5
  'wor@@', // 6
  'ld', // 7
  'a', // 8
  '@USER', // 9
  'HTTPURL', // 10
  ':fire:', // 11
  '.', // 12
  ',', // 13
  'do', // 14
  "n't", // 15
  'he', // 16
]
  .map((token, i) => `${token} ${1000 - i}`)
  .join('\n');

// fastBPE merges; the line number is the rank.
const MERGES = [
  'l o</w>', // 0: beats "l l" (2), so "hello" never gets an "ll"
  'h e', // 1
  'l l', // 2
  'he l', // 3
  'o r', // 4
  'w or', // 5
  'l d</w>', // 6
  '@ U', // 7
  '@U S', // 8
  '@US E', // 9
  '@USE R</w>', // 10
  'H T', // 11
  'HT T', // 12
  'HTT P', // 13
  'HTTP U', // 14
  'HTTPU R', // 15
  'HTTPUR L</w>', // 16
  ': f', // 17
  ':f i', // 18
  ':fi r', // 19
  ':fir e', // 20
  ':fire :</w>', // 21
  'd o</w>', // 22
  "n '", // 23
  "n' t</w>", // 24
  'h e</w>', // 25: only a word-final "e" merges with this rule, not the "e" inside "hello"
]
  .map((merge, rank) => `${merge} ${500 - rank}`)
  .join('\n');

const tokenizer = BertweetTokenizer.fromFiles(`${VOCAB}\n`, `${MERGES}\n`);

describe('BertweetTokenizer BPE and ids', () => {
  it('numbers the fairseq dictionary after the four specials and puts <mask> last', () => {
    assert.equal(tokenizer.vocabSize, 18);
    assert.equal(tokenizer.maskTokenId, 17);
    assert.deepEqual([tokenizer.bosTokenId, tokenizer.padTokenId, tokenizer.eosTokenId, tokenizer.unkTokenId], [0, 1, 2, 3]);
    assert.equal(tokenizer.tokenToId('hel@@'), 4);
    assert.equal(tokenizer.tokenToId('he'), 16);
    assert.equal(tokenizer.modelMaxLength, 128);
  });

  it('applies merges by rank, marks continuing pieces with @@ and ends words with </w>', () => {
    // h e l l o</w> -> (l,o</w>)#0 -> (h,e)#1 -> (he,l)#3; "l l"#2 no longer has a pair to merge.
    assert.deepEqual(tokenizer.tokenize('hello'), ['hel@@', 'lo']);
    // w o r l d</w> -> (o,r)#4 -> (w,or)#5 -> (l,d</w>)#6
    assert.deepEqual(tokenizer.tokenize('world'), ['wor@@', 'ld']);
    // "he" alone ends in e</w>, which only rule #25 merges.
    assert.deepEqual(tokenizer.tokenize('he'), ['he']);
    // A single character gets no end-of-word marker and no BPE.
    assert.deepEqual(tokenizer.tokenize('a'), ['a']);
    assert.deepEqual(tokenizer.encode('hello, world.').inputIds, [0, 4, 5, 13, 6, 7, 12, 2]);
  });

  it('maps pieces missing from the vocabulary to <unk> (3)', () => {
    assert.deepEqual(tokenizer.tokenize('qq'), ['q@@', 'q']);
    assert.deepEqual(tokenizer.encode('qq a').inputIds, [0, 3, 3, 8, 2]);
  });

  it('turns mentions into @USER, links into HTTPURL and emoji into their names before BPE', () => {
    assert.deepEqual(tokenizer.encode('@user123').inputIds, [0, 9, 2]);
    assert.deepEqual(tokenizer.encode('https://x.y/z').inputIds, [0, 10, 2]);
    assert.deepEqual(tokenizer.encode('www.x.com').inputIds, [0, 10, 2]);
    assert.deepEqual(tokenizer.encode('🔥').inputIds, [0, 11, 2]);
    assert.deepEqual(tokenizer.encode('@someone 🔥 https://x.y/z hello').inputIds, [0, 9, 11, 10, 4, 5, 2]);
  });

  it("splits contractions the way BERTweet was trained (don't -> do n't)", () => {
    assert.deepEqual(tokenizer.tokenize("don't ."), ['do', "n't", '.']);
    assert.deepEqual(tokenizer.encode('don’t.').inputIds, [0, 14, 15, 12, 2]);
  });

  it('truncates the text, not the special tokens: </s> stays last', () => {
    const encoding = tokenizer.encode('hello world a', { maxLength: 4 });
    assert.deepEqual(encoding.inputIds, [0, 4, 5, 2]);
    assert.deepEqual(encoding.attentionMask, [1, 1, 1, 1]);
    assert.equal(encoding.truncated, true);
    assert.equal(encoding.originalLength, 7);
    const fits = tokenizer.encode('hello world a', { maxLength: 7 });
    assert.deepEqual(fits.inputIds, [0, 4, 5, 6, 7, 8, 2]);
    assert.equal(fits.truncated, false);
  });

  it('encodes without special tokens on request', () => {
    assert.deepEqual(tokenizer.encode('hello a', { addSpecialTokens: false }).inputIds, [4, 5, 8]);
    assert.deepEqual(tokenizer.encode('hello a', { addSpecialTokens: false, maxLength: 2 }).inputIds, [4, 5]);
  });

  it('pads a batch with <pad>=1 and attention mask 0', () => {
    const batch = tokenizer.encodeBatch(['a', 'hello world', 'hello world a hello'], { maxLength: 6 });
    assert.deepEqual(batch.inputIds, [
      [0, 8, 2, 1, 1, 1],
      [0, 4, 5, 6, 7, 2],
      [0, 4, 5, 6, 7, 2],
    ]);
    assert.deepEqual(batch.attentionMask, [
      [1, 1, 1, 0, 0, 0],
      [1, 1, 1, 1, 1, 1],
      [1, 1, 1, 1, 1, 1],
    ]);
    assert.deepEqual(batch.truncated, [false, false, true]);
    assert.deepEqual(batch.originalLengths, [3, 6, 9]);

    const fixed = tokenizer.encodeBatch(['a', 'hello world a'], { padTo: 4 });
    assert.deepEqual(fixed.inputIds, [
      [0, 8, 2, 1],
      [0, 4, 5, 2],
    ]);
    assert.deepEqual(fixed.attentionMask, [
      [1, 1, 1, 0],
      [1, 1, 1, 1],
    ]);
    assert.deepEqual(tokenizer.encodeBatch([]).inputIds, []);
  });

  it('decodes ids, joining @@ pieces', () => {
    const ids = tokenizer.encode('hello, world.').inputIds;
    assert.equal(tokenizer.decode(ids), '<s> hello , world . </s>');
    assert.equal(tokenizer.decode(ids, { skipSpecialTokens: true }), 'hello , world .');
    assert.equal(tokenizer.decode([4, 5, 3, 1], { skipSpecialTokens: true }), 'hello');
  });

  it('rejects a vocab.txt line without a count', () => {
    assert.throws(
      () => BertweetTokenizer.fromFiles('hello 1\nbroken\n', MERGES),
      (error: unknown) => error instanceof CuratorError && error.code === 'model_load_failed' && /line 2/.test(error.message),
    );
  });

  it('rejects a maxLength that is not a positive integer', () => {
    assert.throws(() => tokenizer.encode('a', { maxLength: 0 }), (error: unknown) => error instanceof CuratorError && error.code === 'bad_input');
  });
});

describe('BertweetTokenizer.normalizeTweet', () => {
  // Expected outputs are what Hugging Face transformers' BertweetTokenizer(normalization=True)
  // returns for these inputs (transformers 5.17.0 with emoji 2.16.0).
  const cases: [string, string][] = [
    [
      'SC has first two presumptive cases of coronavirus, DHEC confirms https://postandcourier.com/health/covid19/sc-has-first-two-presumptive-cases-of-coronavirus-dhec-confirms/article_bddfe4ae-5fd3-11ea-9ce4-5f495366cee6.html?utm_medium=social&utm_source=twitter&utm_campaign=user-share… via @postandcourier 😢',
      'SC has first two presumptive cases of coronavirus , DHEC confirms HTTPURL ... via @USER :crying_face:',
    ],
    ["I can't believe it's not butter!!!! :-) <3 @user123 www.x.com", "I can't believe it 's not butter ! ! ! :-) <3 @USER HTTPURL"],
    ["We cannot go — it's 5 p.m. and I'm tired… don’t you think? ain't nobody", "We can not go — it 's 5 p.m. and I 'm tired ... do n't you think ? ain't nobody"],
    ['Call +1 (555) 123-4567 or mail me at john.doe@example.com #HashTag #a', 'Call +1 (555) 123-4567 or mail me at john.doe@example.com #HashTag # a'],
    ['Price: &pound;100 &amp; &apos;quoted&apos; &#65;&#x42; &#150; &#129; &bogus; AT&T', 'Price : £ 100 & quoted AB – AT & T'],
    [
      '❤️ love 👍🏽 🇺🇸 👨‍👩‍👧 © ™ ↔️ 8) (about 8) :D :p',
      ':red_heart: love :thumbs_up: :medium_skin_tone: 🇺 🇸 :man: \u200d :woman: \u200d :girl: :copyright: :trade_mark: :left-right_arrow: 8) ( about 8) :D :p',
    ],
    ['http://......................................... end', 'HTTPURL :/ / ... end'],
    ['https://x.y/z and example.co.uk/path?q=1 and foo@bar.com and @ alone', 'HTTPURL and example.co.uk/path?q=1 and foo@bar.com and @USER alone'],
    [
      "Mr. Smith's dog, the U.S.A. won't stop; she'd've we'll they're you've I'd",
      "Mr . Smith 's dog , the U . S . A . wo n't stop ; she'd 've we 'll they 're you 've I'd",
    ],
    ['"Quoted" ‘single’ «guillemets» 3.14 -2,5 1/2 10:30 a.m. meeting at 5 p . m today', `" Quoted " ‘ single ' « guillemets » 3.14 -2,5 1/2 10:30 a.m. meeting at 5 p.m today`],
    ['<b>bold</b> -> <-- ---> x_y_z __init__ don\'t-stop rock\'n\'roll', "<b> bold </b> -> <-- ---> x_y_z __init__ don't-stop rock'n'roll"],
    ['!!!!!???? ......... ---- ____ ~~~~ ???!!!', '! ! ! ? ? ? ... - - - ___ ~ ~ ~ ? ? ? ! ! !'],
    ['tab\tseparated\tand\nnewline', 'tab separated and newline'],
  ];
  for (const [input, expected] of cases) {
    it(`normalizes ${JSON.stringify(input.slice(0, 40))}`, () => {
      assert.equal(tokenizer.normalizeTweet(input), expected);
    });
  }

  it('stays fast on a link followed by a long run of punctuation', () => {
    // A nested quantifier in the URL pattern would backtrack exponentially here and never return.
    const text = `http://${'.,;'.repeat(40)} end`;
    assert.match(tokenizer.normalizeTweet(text), /^HTTPURL .* end$/);
  });

  it('cuts whitespace-free runs longer than 1000 characters, which the reference scans quadratically', () => {
    assert.deepEqual(
      tweetTokenize(`go ${'a'.repeat(2500)} now`).map((token) => token.length),
      [2, 1000, 1000, 500, 3],
    );
    assert.deepEqual(tweetTokenize(`${'b'.repeat(1000)} x`).map((token) => token.length), [1000, 1]);
  });
});

describe('demojizeCodePoint', () => {
  it("gives the names of Python's emoji package", () => {
    const expected: [string, string][] = [
      ['😀', ':grinning_face:'],
      ['😂', ':face_with_tears_of_joy:'],
      ['❤', ':red_heart:'],
      ['🏽', ':medium_skin_tone:'],
      ['🅰', ':A_button_(blood_type):'],
      ['🈁', ':Japanese_here_button:'],
      ['↔', ':left-right_arrow:'],
      ['🫎', ':moose:'],
      ['🪌', ':eraser:'],
    ];
    for (const [emoji, name] of expected) assert.equal(demojizeCodePoint(emoji), name);
  });

  it('drops a lone variation selector and leaves other characters alone', () => {
    assert.equal(demojizeCodePoint('\uFE0F'), '');
    assert.equal(demojizeCodePoint('🇺'), '🇺');
    assert.equal(demojizeCodePoint('é'), 'é');
    assert.equal(demojizeCodePoint('#'), '#');
  });
});

describe('loadTokenizer for a BERTweet folder', () => {
  it('reads vocab.txt + bpe.codes and the limit in tokenizer_config.json', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'curator-bertweet-'));
    try {
      await writeFile(join(dir, 'vocab.txt'), `${VOCAB}\n`);
      await writeFile(join(dir, 'bpe.codes'), `${MERGES}\n`);
      await writeFile(join(dir, 'tokenizer_config.json'), JSON.stringify({ normalization: true, model_max_length: 5 }));
      const loaded = await loadTokenizer(dir);
      assert.equal(loaded.kind, 'bertweet');
      assert.equal(loaded.modelMaxLength, 5);
      assert.deepEqual(loaded.encode('@user hello world').inputIds, [0, 9, 4, 5, 2]);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('needs both files: bpe.codes alone is no tokenizer', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'curator-empty-'));
    try {
      await writeFile(join(dir, 'bpe.codes'), `${MERGES}\n`);
      await assert.rejects(
        loadTokenizer(dir),
        (error: unknown) =>
          error instanceof CuratorError && error.code === 'model_missing' && /vocab\.txt \+ bpe\.codes/.test(error.message) && /tokenizer\.json/.test(error.message),
      );
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
