#!/usr/bin/env python3
"""Reference token ids for Curator's tokenizers, made by Hugging Face's own tokenizer classes.

Runnable anywhere with `pip install transformers tokenizers sentencepiece protobuf emoji`
(never a runtime or CI dependency of Curator):

    python make_fixtures.py            # in this folder

The real vocabularies (CLIP's, t5-small's spiece.model, BERT's, BERTweet's) cannot be downloaded
here, so the first run makes small but realistic ones from the text embedded below, in the files
the real repositories publish:

  clip/      vocab.json + merges.txt (+ tokenizer_config.json, special_tokens_map.json), as
             OFA-Sys/small-stable-diffusion-v0's tokenizer/ folder: byte-level BPE learnt here the
             way CLIP's was (bytes, then bytes + "</w>", then merges, then the two specials).
  t5/        spiece.model trained by SentencePiece's own trainer with T5's settings (unigram,
             nmt_nfkc, <pad>=0 </s>=1 <unk>=2, no <s>) + tokenizer_config.json (extra_ids 100).
  bert/      vocab.txt (WordPiece, trained by `tokenizers`' own trainer, uncased) +
             tokenizer_config.json; bert-cased/ the same, cased, do_lower_case false.
  bertweet/  vocab.txt + bpe.codes (fastBPE's formats, merges learnt here on BERTweet-normalized
             text) + tokenizer_config.json with "normalization": false, as
             finiteautomata/bertweet-base-sentiment-analysis publishes.
  t5-json/, clip-json/, bert-json/: the tokenizer.json transformers' fast tokenizer writes for
             the folders above (to test that path on files Hugging Face wrote).

Existing vocabulary folders are kept, so the ids of every run refer to the same files; delete a
folder to make it again. Every run then records, with the installed transformers, the ids of the
HARD strings below for every tokenizer class that exists in that version (transformers 4.x has a
slow Python class and a fast `tokenizers` class for CLIP, T5 and BERT; 5.x keeps only the
`tokenizers` ones) into `ids-transformers-<version>.json`.

BERTweet with pysentimiento: finiteautomata's model was trained with the authors' pysentimiento
library, whose `preprocess_tweet` rewrites the text before the tokenizer (it is applied by
`pysentimiento.create_analyzer(task="sentiment", lang="en")`). pysentimiento is not installed
here, so `pysentimiento_preprocess` below reimplements its English preprocessing from its source
(pysentimiento 0.7.3, pysentimiento/preprocessing.py at commit b8a5212, the latest release; the
analyzer passes user_token "@USER" and url_token "HTTPURL"). The patterns and the replacement
table are the library's; the code is ours. The recorded pysentimiento rows are therefore our
reading of pysentimiento run on Python, not pysentimiento itself.

`emoji-demojize.json.gz` records `emoji.demojize(key, delimiters=("|", "|"))` for every emoji the
installed `emoji` package knows, plus a few sequences, for the demojizer pysentimiento uses.
"""

from __future__ import annotations

import collections
import gzip
import io
import json
import os
import re
import shutil
import sys
import tempfile
import unicodedata

import emoji
import sentencepiece as spm
import tokenizers
import transformers
from transformers import AutoTokenizer

HERE = os.path.dirname(os.path.abspath(__file__))

# ---------------------------------------------------------------------------------------------
# Text the small vocabularies are learnt from: news, tweets, prompts, and a little of several
# scripts, so that the vocabularies hold real words and pieces and still miss rare characters.
CORPUS = """
The government said on Tuesday that the company's market price rose 3.5% after the report.
Police in the city and the state are investigating the cause of the fire near the old bridge.
Quarterly earnings beat expectations, sending shares of Acme Corp. up 12 percent in early trading.
The minister told reporters that the new law would protect workers and help small businesses.
Scientists have discovered a new species of frog in the rainforest of Ecuador, a study says.
The football team won the match 2-1 after a late goal in extra time; fans celebrated all night.
Storms brought heavy rain and strong winds to the coast, and thousands of homes lost power.
The president will meet the prime minister next week to discuss trade, energy and security.
Oil prices fell sharply on Monday as investors worried about slowing growth in China and Europe.
A photo of an astronaut riding a horse on the moon, highly detailed, digital art, 4k, trending.
A beautiful landscape painting of mountains at sunset, oil on canvas, dramatic lighting.
Portrait of a woman in a red dress, cinematic, realistic, soft light, depth of field.
A cute cat wearing sunglasses, watercolor illustration, pastel colors, white background.
I can't believe it's not butter!!! @user123 check this out https://example.com/news #BreakingNews
Loving the new album 😍😍 #music #NowPlaying @artist so good!!! https://t.co/abc123
This is sooooo bad 😡 worst service ever... never again #fail
Happy birthday my friend 🎉🎂❤️ hope you have an amazing day! @bestie
lol that was hilarious 😂😂😂 hahaha I'm dying
Can't wait for the weekend 🙌 #TGIF #weekend vibes
The café on the corner serves crème brûlée and a naïve résumé of French cuisine.
Müller and Schröder met in Zürich; the Ångström unit is named after a Swedish physicist.
東京は日本の首都です。北京欢迎你。서울은 한국의 수도입니다。
مرحبا بالعالم، هذه جملة باللغة العربية. שלום עולם.
Привет, мир! Это предложение на русском языке. Γειά σου κόσμε.
Ο Οδυσσέας ταξίδεψε στην Ιθάκη με τους φίλους του· ο Σίσυφος έσπρωχνε την πέτρα.
नमस्ते दुनिया। สวัสดีชาวโลก
Markets rallied: the Dow gained 1.2%, the S&P 500 rose 0.9% and the Nasdaq added 1.5%.
Election results: turnout was 67 percent, the highest since 1992, officials said.
The World Health Organization said new cases fell for the third week in a row.
Researchers trained the model on millions of images and texts collected from the internet.
Breaking news: an earthquake of magnitude 6.1 struck the region early on Sunday morning.
""".strip()

# ---------------------------------------------------------------------------------------------
# The hard strings every tokenizer is asked for.
LONG_WORD = "supercalifragilisticexpialidocious" * 5  # 170 characters: over WordPiece's 100
LONG_TEXT = " ".join(
    [
        "A very long prompt about a castle on a hill under a starry night sky with a river, a bridge,",
        "a forest of tall pine trees, snow on the mountains, a small village with warm lights in the",
        "windows, people walking on the road, a horse and a cart, birds flying over the lake, clouds,",
        "the moon, reflections on the water, fog in the valley, highly detailed, digital painting,",
        "concept art, sharp focus, illustration, dramatic lighting, cinematic composition, 8k.",
    ]
)
HARD_STRINGS: list[str] = [
    "",
    " ",
    "   leading and trailing spaces   ",
    "Hello, World! It's a test.",
    "The government said on Tuesday that the company's market price rose 3.5% after the report.",
    "BREAKING NEWS: MARKETS CRASH AS OIL SOARS",
    "I love it 😂😂😂",
    "❤️ vs ❤ vs ❤︎",
    "👍🏽 👍🏿 👋🏻",
    "family 👨‍👩‍👧‍👦 and 👨‍👩 and 👩🏾‍💻 and 🧑‍🤝‍🧑",
    "flags 🇺🇸🇬🇧 🇫🇷 🏳️‍🌈 🏴󠁧󠁢󠁳󠁣󠁴󠁿",
    "keycaps 1️⃣ #️⃣ *⃣ and ☺︎ ✈",
    "🔥🔥🔥 so hot 🥵",
    "https://example.com/path?q=1&r=2#frag and http://t.co/AbC123",
    "visit www.bbc.co.uk/news or example.org/about-us today",
    "@user_name123 @a @verylongusername_exceeding_fifteen and email john.doe@example.com",
    "#HashTag #BlackLivesMatter #2020 #co_vid19 #ÉtéIndien #",
    "sooooo goooood!!!!! ?!?!?! yessss",
    "hahahaha lol jajaja hahah xD :) :-( <3 :D",
    "Mr. O'Neil's \"quoted\" ‘curly’ “double” — em – en … ellipsis",
    "$100 €50 £30 ¥2000 100% 3.14 1,000,000 -5 +7 1/2 2020-01-01 10:30",
    "naïve café résumé Ångström crème brûlée",
    "cafe\u0301 re\u0301sume\u0301 e\u0301\u0301 a\u0308",
    "Ünïcödé ÀÉÎÕÜ straße İstanbul ΣΊΣΥΦΟΣ ὈΔΥΣΣΕΎΣ",
    "ﬁnancial ﬂow oﬀice ﬃ ﬄ",
    "Ｆｕｌｌ－ｗｉｄｔｈ\u3000ＡＢＣ\u3000１２３！",
    "ｶﾀｶﾅ ﾊﾞﾋﾟ half-width kana",
    "Ｈｅｌｌｏ\u0301 full-width with a combining accent",
    "∑x² ≤ ∞ ½ ¼ ⅓ ① Ⅻ ㎏ ℃",
    "non\u00a0breaking\u2009thin\u200bzero\u2060joiner\ufeffbom\u00adsoft",
    "tab\there\nnewline\r\nCRLF\x0bvt\x0cff\u2028ls\u2029ps\x85nel",
    "control \x07bell \x1b[31mansi\x1b[0m \x7fdel \ufffd replacement \x01\x02",
    "東京は日本の首都です。北京欢迎你",
    "こんにちは世界 カタカナ ひらがな",
    "서울은 한국의 수도입니다 \u1100\u1161\u11a8",
    "مرحبا بالعالم، هذه جملة",
    "abc مرحبا 123 שלום def",
    "Привет, мир! Γειά σου κόσμε",
    "ΟΔΥΣΣΕΑΣ ΣΙΣΥΦΟΣ ΦΙΛΟΥΣ Σ ΑΣ",
    "astral CJK 𠀋𠂤𪚲 and 𝐛𝐨𝐥𝐝 𝓈𝒸𝓇𝒾𝓅𝓉 math letters",
    "unassigned \u0378 private \ue000 \U000f0000 noncharacter \ufdd0 end",
    "punctuation runs /\ufeff{: ?\x85! -\u3000- \u200b'\u2028\" (\ufeff)",
    "spaces\u0085a\u00a0b\u1680c\u180ed\u2000e\u200af\u2028g\u202fh\u205fi\u3000j\ufeffk\x1cl\x1fm\x0bn\x0co",
    "नमस्ते दुनिया สวัสดีชาวโลก",
    LONG_WORD,
    "x" * 120,
    "<s> </s> <pad> <unk> <mask> [CLS] [SEP] [PAD] [MASK] [UNK]",
    "<|startoftext|>a photo<|endoftext|> <extra_id_0> <extra_id_99> summarize: news",
    "summarize: The minister said the new law would help workers.",
    "&amp; &lt;3 &#39;quoted&#39; &quot;",
    "a photo of an astronaut riding a horse on the moon, highly detailed, digital art, 4k",
    "A    lot     of      spaces\t\tand\ttabs",
    "under_score snake_case CamelCaseWord kebab-case dot.separated.words",
    "can't won't I'm you're they've we'll he'd Y'ALL'RE",
]

# Batch cases: padding and truncation as the engines use them.
BATCH_TEXTS = ["a photo of a cat", LONG_TEXT, ""]

# ---------------------------------------------------------------------------------------------
# pysentimiento's English preprocessing (see the module docstring).
_PYS_USER = re.compile(r"@[a-zA-Z0-9_]{0,15}")
_PYS_URL = re.compile(
    r"((?<=[^a-zA-Z0-9])(?:https?\:\/\/|[a-zA-Z0-9]{1,}\.{1}|\b)(?:\w{1,}\.{1}){1,5}"
    r"(?:com|co|org|edu|gov|uk|net|ca|de|jp|fr|au|us|ru|ch|it|nl|se|no|es|mil|iq|io|ac|ly|sm){1}"
    r"(?:\/[a-zA-Z0-9]{1,})*)"
)
_PYS_HASHTAG = re.compile(r"\B#(\w*[a-zA-Z]+\w*)")
_PYS_UPPER_RUN = re.compile(r"([A-Z]+)")
_PYS_EMOJI_NAME = re.compile(r"\|([^\|]+)\|")
_PYS_LAUGHTER_EN = re.compile("[ha][ha]+ah[ha]+")
_PYS_REPEATED = re.compile(r"(.)\1\1+")
# Characters pysentimiento replaces (value) or removes (None) before anything else.
_PYS_CHARS = {
    "~": None, "£": None, "¥": None, "¨": '"', "©": None, "«": '"', "°": None, "´": None,
    "¶": None, "·": None, "º": None, "»": '"', "×": None, "ا": None, "–": None, "—": None,
    "‘": None, "’": None, "“": '"', "”": '"', "•": None, "…": None, "‼": "!", "€": "$",
    "™": None, "●": None, "☠": None, "☹": None, "☺": None, "☻": "😃", "♀": None, "♂": None,
    "♡": "❤️", "♥": "❤️", "⚰": None, "⛱": None, "⛹": None, "✈": None, "✓": None, "❤": None,
    "ー": None, "🕯": None, "🛰": None,
}


def pysentimiento_preprocess(text: str) -> str:
    def hashtag(match: re.Match[str]) -> str:
        words = _PYS_UPPER_RUN.sub(r" \1", match.group(1)).strip().lower()
        return "hashtag " + words

    def emoji_words(match: re.Match[str]) -> str:
        return " emoji " + " ".join(match.group(1).split("_")) + " emoji "

    text = _PYS_HASHTAG.sub(hashtag, text)
    text = "".join((_PYS_CHARS[char] or "") if char in _PYS_CHARS else char for char in text)
    text = _PYS_USER.sub("@USER", text)
    text = _PYS_URL.sub("HTTPURL", text)
    text = _PYS_REPEATED.sub(r"\1\1\1", text)
    text = emoji.demojize(text, language="en", delimiters=("|", "|"))
    text = _PYS_EMOJI_NAME.sub(emoji_words, text)
    text = _PYS_LAUGHTER_EN.sub("haha", text)
    return text.strip()


# Strings that exercise the preprocessing itself (besides HARD_STRINGS).
PYSENTIMIENTO_STRINGS = [
    "Loving the new album 😍😍 #music #NowPlaying @artist so good!!! https://t.co/abc123",
    "https://example.com at the start is not replaced, but (https://example.com) is",
    "see www.example.com/a/b/c and news.bbc.co.uk and www.example.company.x",
    "@abcdefghijklmnopqrstuvwxyz has a 26-letter handle; a lone @ too",
    "#iPhoneXSMax #ABC #a1b2 #123 #_x_ word#notatag",
    "pipes | are | read as emoji | names",
    "hahahahaha hhhhhhh ahahah haha",
    "Sooo cooool!!!!!! 😂😂😂😂",
    "♥ ♡ ☻ ‼ € ™ ✓ ❤",
    "\u200bzero width\ufeff and\u3000ideographic spaces\u00a0",
]

# ---------------------------------------------------------------------------------------------
# Vocabulary makers.


def bytes_to_unicode() -> dict[int, str]:
    """GPT-2/CLIP's reversible byte -> printable character table."""
    printable = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    chars = printable[:]
    extra = 0
    for b in range(256):
        if b not in printable:
            printable.append(b)
            chars.append(256 + extra)
            extra += 1
    return dict(zip(printable, (chr(c) for c in chars)))


def learn_bpe(word_counts: dict[tuple[str, ...], int], merges: int) -> list[tuple[str, str]]:
    """Plain BPE learning: merge the most frequent adjacent pair (ties: the smaller pair)."""
    words = {word: count for word, count in word_counts.items()}
    learnt: list[tuple[str, str]] = []
    for _ in range(merges):
        pairs: collections.Counter[tuple[str, str]] = collections.Counter()
        for word, count in words.items():
            for pair in zip(word, word[1:]):
                pairs[pair] += count
        if not pairs:
            break
        best = min(pairs, key=lambda pair: (-pairs[pair], pair))
        learnt.append(best)
        merged: dict[tuple[str, ...], int] = {}
        for word, count in words.items():
            out: list[str] = []
            i = 0
            while i < len(word):
                if i + 1 < len(word) and (word[i], word[i + 1]) == best:
                    out.append(word[i] + word[i + 1])
                    i += 2
                else:
                    out.append(word[i])
                    i += 1
            merged[tuple(out)] = merged.get(tuple(out), 0) + count
        words = merged
    return learnt


def write_json(path: str, value: object, indent: int | None = 2) -> None:
    with open(path, "w", encoding="utf-8") as handle:
        json.dump(value, handle, ensure_ascii=False, indent=indent)
        handle.write("\n")


def make_clip(folder: str) -> None:
    byte_encoder = bytes_to_unicode()
    pattern = re.compile(r"""'s|'t|'re|'ve|'m|'ll|'d|[^\W\d_]+|\d|[^\s\w]+|_+""", re.UNICODE)
    counts: collections.Counter[tuple[str, ...]] = collections.Counter()
    for line in CORPUS.lower().split("\n"):
        for token in pattern.findall(" ".join(line.split())):
            symbols = [byte_encoder[b] for b in token.encode("utf-8")]
            symbols[-1] += "</w>"
            counts[tuple(symbols)] += 1
    merges = learn_bpe(counts, 700)
    alphabet = list(bytes_to_unicode().values())
    vocab_list = alphabet + [symbol + "</w>" for symbol in alphabet] + ["".join(merge) for merge in merges]
    vocab_list += ["<|startoftext|>", "<|endoftext|>"]
    vocab: dict[str, int] = {}
    for token in vocab_list:
        vocab.setdefault(token, len(vocab))
    os.makedirs(folder)
    write_json(os.path.join(folder, "vocab.json"), vocab, indent=None)
    with open(os.path.join(folder, "merges.txt"), "w", encoding="utf-8") as handle:
        handle.write("#version: 0.2\n" + "".join(f"{a} {b}\n" for a, b in merges))
    special = {"bos_token": "<|startoftext|>", "eos_token": "<|endoftext|>", "unk_token": "<|endoftext|>", "pad_token": "<|endoftext|>"}
    # As in OFA-Sys/small-stable-diffusion-v0 (and CompVis/stable-diffusion-v1-4) tokenizer/.
    config = {
        "add_prefix_space": False,
        "do_lower_case": True,
        "errors": "replace",
        "model_max_length": 77,
        "name_or_path": "openai/clip-vit-large-patch14",
        "pad_token": "<|endoftext|>",
        "special_tokens_map_file": "./special_tokens_map.json",
        "tokenizer_class": "CLIPTokenizer",
        "bos_token": {"__type": "AddedToken", "content": "<|startoftext|>", "lstrip": False, "normalized": True, "rstrip": False, "single_word": False},
        "eos_token": {"__type": "AddedToken", "content": "<|endoftext|>", "lstrip": False, "normalized": True, "rstrip": False, "single_word": False},
        "unk_token": {"__type": "AddedToken", "content": "<|endoftext|>", "lstrip": False, "normalized": True, "rstrip": False, "single_word": False},
    }
    write_json(os.path.join(folder, "tokenizer_config.json"), config)
    write_json(os.path.join(folder, "special_tokens_map.json"), special)


def make_t5(folder: str) -> None:
    model = io.BytesIO()
    spm.SentencePieceTrainer.train(
        sentence_iterator=iter([line for line in CORPUS.split("\n") if line]),
        model_writer=model,
        model_type="unigram",
        vocab_size=600,
        hard_vocab_limit=False,
        character_coverage=0.9995,
        normalization_rule_name="nmt_nfkc",
        pad_id=0,
        eos_id=1,
        unk_id=2,
        bos_id=-1,
        pad_piece="<pad>",
        eos_piece="</s>",
        unk_piece="<unk>",
        num_threads=1,
        minloglevel=2,
    )
    os.makedirs(folder)
    with open(os.path.join(folder, "spiece.model"), "wb") as handle:
        handle.write(model.getvalue())
    special = {"eos_token": "</s>", "unk_token": "<unk>", "pad_token": "<pad>", "additional_special_tokens": [f"<extra_id_{i}>" for i in range(100)]}
    # What T5Tokenizer.save_pretrained writes (JulesBelveze/t5-small-headline-generator has these).
    write_json(os.path.join(folder, "tokenizer_config.json"), {**special, "extra_ids": 100, "model_max_length": 512, "tokenizer_class": "T5Tokenizer"})
    write_json(os.path.join(folder, "special_tokens_map.json"), special)


def make_bert(folder: str, lowercase: bool) -> None:
    from tokenizers import BertWordPieceTokenizer

    trainer = BertWordPieceTokenizer(lowercase=lowercase, strip_accents=None if lowercase else False)
    special = ["[PAD]"] + [f"[unused{i}]" for i in range(5)] + ["[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    trainer.train_from_iterator(CORPUS.split("\n"), vocab_size=900, min_frequency=1, special_tokens=special, limit_alphabet=1000, wordpieces_prefix="##")
    os.makedirs(folder)
    vocab = sorted(trainer.get_vocab().items(), key=lambda item: item[1])
    with open(os.path.join(folder, "vocab.txt"), "w", encoding="utf-8") as handle:
        handle.write("".join(f"{token}\n" for token, _ in vocab))
    tokens = {"unk_token": "[UNK]", "sep_token": "[SEP]", "pad_token": "[PAD]", "cls_token": "[CLS]", "mask_token": "[MASK]"}
    config = {**tokens, "do_lower_case": lowercase, "model_max_length": 512, "strip_accents": None, "tokenize_chinese_chars": True, "tokenizer_class": "BertTokenizer"}
    write_json(os.path.join(folder, "tokenizer_config.json"), config)
    write_json(os.path.join(folder, "special_tokens_map.json"), tokens)


def make_bertweet(folder: str) -> None:
    from transformers import BertweetTokenizer

    # BERTweet's vocabulary was learnt on normalized tweets; normalize the corpus the same way,
    # with a throwaway tokenizer whose files hold nothing.
    scratch = os.path.join(HERE, ".bertweet-scratch")
    os.makedirs(scratch, exist_ok=True)
    open(os.path.join(scratch, "vocab.txt"), "w").close()
    open(os.path.join(scratch, "bpe.codes"), "w").close()
    normalizer = BertweetTokenizer(os.path.join(scratch, "vocab.txt"), os.path.join(scratch, "bpe.codes"), normalization=True)
    lines = [normalizer.normalizeTweet(line) for line in CORPUS.split("\n") if line]
    shutil.rmtree(scratch)
    counts: collections.Counter[tuple[str, ...]] = collections.Counter()
    for line in lines:
        for word in line.split():
            symbols = list(word)
            symbols[-1] += "</w>"
            counts[tuple(symbols)] += 1
    merges = learn_bpe(counts, 600)
    # fastBPE's `getvocab`: every piece the merges produce on the corpus, with its count.
    ranks = {merge: rank for rank, merge in enumerate(merges)}
    piece_counts: collections.Counter[str] = collections.Counter()
    merge_counts: collections.Counter[tuple[str, str]] = collections.Counter()
    for word, count in counts.items():
        symbols = list(word)
        while len(symbols) > 1:
            candidates = [(ranks[pair], i) for i, pair in enumerate(zip(symbols, symbols[1:])) if pair in ranks]
            if not candidates:
                break
            _, i = min(candidates)
            merge_counts[(symbols[i], symbols[i + 1])] += count
            symbols[i : i + 2] = [symbols[i] + symbols[i + 1]]
        for j, symbol in enumerate(symbols):
            piece_counts[symbol[: -len("</w>")] if symbol.endswith("</w>") else symbol + "@@"] += count
    os.makedirs(folder)
    with open(os.path.join(folder, "bpe.codes"), "w", encoding="utf-8") as handle:
        handle.write("".join(f"{a} {b} {max(merge_counts[(a, b)], 1)}\n" for a, b in merges))
    with open(os.path.join(folder, "vocab.txt"), "w", encoding="utf-8") as handle:
        for piece, count in sorted(piece_counts.items(), key=lambda item: (-item[1], item[0])):
            if piece not in ("<s>", "<pad>", "</s>", "<unk>", "<mask>"):
                handle.write(f"{piece} {count}\n")
    tokens = {"bos_token": "<s>", "eos_token": "</s>", "unk_token": "<unk>", "sep_token": "</s>", "pad_token": "<pad>", "cls_token": "<s>", "mask_token": "<mask>"}
    # As finiteautomata/bertweet-base-sentiment-analysis publishes: normalization off.
    write_json(os.path.join(folder, "tokenizer_config.json"), {"normalization": False, "model_max_length": 128, "tokenizer_class": "BertweetTokenizer", **tokens})
    write_json(os.path.join(folder, "special_tokens_map.json"), tokens)


def make_vocabularies() -> None:
    makers = {
        "clip": make_clip,
        "t5": make_t5,
        "bert": lambda folder: make_bert(folder, lowercase=True),
        "bert-cased": lambda folder: make_bert(folder, lowercase=False),
        "bertweet": make_bertweet,
    }
    for name, maker in makers.items():
        folder = os.path.join(HERE, name)
        if not os.path.isdir(folder):
            print(f"making {name}/", file=sys.stderr)
            maker(folder)


# ---------------------------------------------------------------------------------------------
# Recording.

MAJOR = int(transformers.__version__.split(".")[0])


def load(folder: str, fast: bool | None, **kwargs):
    path = os.path.join(HERE, folder)
    if MAJOR >= 5:
        return AutoTokenizer.from_pretrained(path, **kwargs)
    return AutoTokenizer.from_pretrained(path, use_fast=bool(fast), **kwargs)


def encodings(tokenizer, texts: list[str]) -> dict:
    """Ids per text (in the order of `texts`) and their decoding without special tokens."""
    ids = [tokenizer(text)["input_ids"] for text in texts]
    return {"ids": ids, "decoded": [tokenizer.decode(row, skip_special_tokens=True) for row in ids]}


def batch(tokenizer, max_length: int) -> dict:
    encoded = tokenizer(BATCH_TEXTS, padding="max_length", max_length=max_length, truncation=True)
    return {"texts": BATCH_TEXTS, "max_length": max_length, "input_ids": encoded["input_ids"], "attention_mask": encoded["attention_mask"]}


def record(name: str, tokenizer, max_length: int) -> dict:
    print(f"  {name}: {type(tokenizer).__name__}", file=sys.stderr)
    return {
        "class": type(tokenizer).__name__,
        "pad_token_id": tokenizer.pad_token_id,
        "model_max_length": tokenizer.model_max_length if tokenizer.model_max_length < 1e9 else None,
        **encodings(tokenizer, HARD_STRINGS),
        "batch": batch(tokenizer, max_length),
    }


def write_gzip(path: str, data: bytes) -> None:
    with open(path, "wb") as handle:
        # mtime 0: the same data gives the same file.
        with gzip.GzipFile(fileobj=handle, mode="wb", compresslevel=9, mtime=0) as compressed:
            compressed.write(data)


# T5's tokenizer.json carries the 240 kB precompiled charsmap as base64: it is kept gzipped.
GZIPPED_JSON = {"t5-json"}


def save_json_tokenizers() -> None:
    """tokenizer.json files as transformers' fast tokenizers write them (made once, kept)."""
    for source, target in (("clip", "clip-json"), ("t5", "t5-json"), ("bert", "bert-json")):
        folder = os.path.join(HERE, target)
        if os.path.isdir(folder):
            continue
        tokenizer = load(source, fast=True)
        os.makedirs(folder)
        saved = tokenizer.backend_tokenizer.to_str(pretty=True).encode("utf-8")
        if target in GZIPPED_JSON:
            write_gzip(os.path.join(folder, "tokenizer.json.gz"), saved)
        else:
            with open(os.path.join(folder, "tokenizer.json"), "wb") as handle:
                handle.write(saved)
        for extra in ("tokenizer_config.json", "special_tokens_map.json"):
            shutil.copy(os.path.join(HERE, source, extra), os.path.join(folder, extra))


def load_json_folder(target: str):
    """Loads a *-json folder, ungzipping its tokenizer.json into a scratch copy where needed."""
    if target not in GZIPPED_JSON:
        return load(target, fast=True)
    scratch = tempfile.mkdtemp()
    try:
        for name in os.listdir(os.path.join(HERE, target)):
            source = os.path.join(HERE, target, name)
            if name.endswith(".gz"):
                with gzip.open(source, "rb") as compressed, open(os.path.join(scratch, name[: -len(".gz")]), "wb") as plain:
                    plain.write(compressed.read())
            else:
                shutil.copy(source, scratch)
        if MAJOR >= 5:
            return AutoTokenizer.from_pretrained(scratch)
        return AutoTokenizer.from_pretrained(scratch, use_fast=True)
    finally:
        shutil.rmtree(scratch)


def main() -> None:
    make_vocabularies()
    save_json_tokenizers()
    print(f"recording with transformers {transformers.__version__}", file=sys.stderr)
    results: dict[str, dict] = {}
    kinds = [("clip", 77), ("t5", 16), ("bert", 16), ("bert-cased", 16)]
    for folder, max_length in kinds:
        if MAJOR < 5:
            results[f"{folder}/slow"] = record(f"{folder}/slow", load(folder, fast=False), max_length)
        results[f"{folder}/fast"] = record(f"{folder}/fast", load(folder, fast=True), max_length)
    for folder, max_length in (("clip-json", 77), ("t5-json", 16), ("bert-json", 16)):
        results[f"{folder}/fast"] = record(f"{folder}/fast", load_json_folder(folder), max_length)
    bertweet = load("bertweet", fast=False)
    results["bertweet/huggingface"] = record("bertweet/huggingface", bertweet, 16)
    results["bertweet/normalization"] = record("bertweet/normalization", load("bertweet", fast=False, normalization=True), 16)
    preprocessed = [pysentimiento_preprocess(text) for text in HARD_STRINGS + PYSENTIMIENTO_STRINGS]
    # Its ids are for strings + pysentimiento_strings, preprocessed.
    results["bertweet/pysentimiento"] = {"class": type(bertweet).__name__, "preprocessed": preprocessed, **encodings(bertweet, preprocessed)}
    output = {
        "made_by": "packages/reference/tokenizers/make_fixtures.py",
        "versions": {
            "transformers": transformers.__version__,
            "tokenizers": tokenizers.__version__,
            "sentencepiece": spm.__version__,
            "emoji": emoji.__version__,
            "python_unicode": unicodedata.unidata_version,
        },
        # Every tokenizer's "ids" and "decoded" follow this order.
        "strings": HARD_STRINGS,
        "pysentimiento_strings": PYSENTIMIENTO_STRINGS,
        "tokenizers": results,
    }
    # One line per recorded string keeps the file small and its diffs readable.
    text = json.dumps(output, ensure_ascii=False, indent=1)
    text = re.sub(r"\[\s+([-0-9,\s]+?)\s+\]", lambda m: "[" + re.sub(r"\s+", "", m.group(1)).replace(",", ", ") + "]", text)
    with open(os.path.join(HERE, f"ids-transformers-{transformers.__version__}.json"), "w", encoding="utf-8") as handle:
        handle.write(text + "\n")

    demojized = [[key, emoji.demojize(key, delimiters=("|", "|"))] for key in sorted(emoji.EMOJI_DATA)]
    for text in ("👨‍👩", "👍🏽‍", "🇺🇸🇬", "a\ufe0fb", "❤\ufe0e", "👍\ufe0f🏽", "👨‍👩‍👧‍👦👨‍👩", "x🏽y"):
        demojized.append([text, emoji.demojize(text, delimiters=("|", "|"))])
    data = json.dumps({"emoji": emoji.__version__, "demojized": demojized}, ensure_ascii=False).encode("utf-8")
    write_gzip(os.path.join(HERE, "emoji-demojize.json.gz"), data)


if __name__ == "__main__":
    main()
