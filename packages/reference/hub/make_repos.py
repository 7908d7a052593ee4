"""Tiny Hub repositories for Curator's fetch-and-convert path, made by Hugging Face transformers itself.

For four roles, a folder laid out like the real repo Curator pins (the same file names and weight
format as packages/models/src/manifest.ts fetches from it), holding a tiny random model saved by
transformers with a small real tokenizer (packages/reference/tokenizers), and `answers.json`: what
transformers' own pipeline answers for fixed texts (classification probabilities; the summary and
headline stages' generate() text). Curator's end-to-end test serves these folders from a local
Hub-shaped server, lets `npm start`'s path pull, verify and convert them, and asks a job for the
same answers. Test data only: never a runtime dependency.

    pip install torch transformers safetensors sentencepiece tokenizers
    python make_repos.py        # transformers 5.18 made the committed files

Repos (the real repo each mirrors):
  sentiment/  finiteautomata/bertweet-base-sentiment-analysis: config.json, vocab.txt, bpe.codes,
              tokenizer_config.json ("normalization": false), special_tokens_map.json, pytorch_model.bin
  genre/      abhishek/autonlp-bbc-news-classification-37229289: config.json, tokenizer.json,
              tokenizer_config.json, special_tokens_map.json, pytorch_model.bin
  summarizer/ google-t5/t5-small: config.json, generation_config.json, tokenizer.json,
              tokenizer_config.json, model.safetensors
  headline/   JulesBelveze/t5-small-headline-generator: config.json, tokenizer.json,
              tokenizer_config.json, special_tokens_map.json, pytorch_model.bin
"""

import json
import os
import shutil
import sys
import tempfile

import torch
import transformers
from safetensors.torch import save_file
from transformers import (
    BertConfig,
    BertForSequenceClassification,
    BertTokenizerFast,
    BertweetTokenizer,
    RobertaConfig,
    RobertaForSequenceClassification,
    T5TokenizerFast,
)

HERE = os.path.dirname(os.path.abspath(__file__))
REFERENCE = os.path.dirname(HERE)
TOKENIZERS = os.path.join(REFERENCE, "tokenizers")
sys.path.insert(0, os.path.join(REFERENCE, "models"))
from make_fixtures import BERT_TINY, BERTWEET_TINY, T5_TINY, classifier_random, t5_random, write_json  # noqa: E402

TEXTS = [
    "The government said on Tuesday that energy prices would fall next year.",
    "I love this new phone, the camera is great!",
    "The team lost the final after a late goal.",
    "Shares in the company rose after record profits were reported.",
]

# The stages as Curator's textgen runs them by default (the reference tutorial's pipeline arguments).
SUMMARY_STAGE = {"num_beams": 4, "length_penalty": 2.0, "early_stopping": True, "max_length": 30}
HEADLINE_STAGE = {"num_beams": 4, "no_repeat_ngram_size": 2, "max_length": 84}
HEADLINE_PADDING = 384


def copy_tokenizer(source, folder, names):
    """The tokenizer files transformers wrote for the small real vocabularies (packages/reference/tokenizers)."""
    for name in names:
        for candidate in (name, name + ".gz"):
            path = os.path.join(TOKENIZERS, source, candidate)
            if os.path.exists(path):
                shutil.copyfile(path, os.path.join(folder, candidate))
                break
        else:
            raise FileNotFoundError(os.path.join(TOKENIZERS, source, name))


def keep_only(folder, names):
    """Leaves exactly `names` in the repo folder (save_pretrained writes more than the real repos have)."""
    for name in os.listdir(folder):
        if name not in names and name.removesuffix(".gz") not in names:
            os.remove(os.path.join(folder, name))
    missing = [n for n in names if not os.path.exists(os.path.join(folder, n)) and not os.path.exists(os.path.join(folder, n + ".gz"))]
    assert not missing, f"{folder}: {missing} not written"


def classifier_repo(role, cls, config_cls, config_values, seed, tokenizer, source, files):
    folder = os.path.join(HERE, role)
    shutil.rmtree(folder, ignore_errors=True)
    os.makedirs(folder)
    config_values = {**config_values, "vocab_size": len(tokenizer), "max_position_embeddings": 130 if role == "sentiment" else 128}
    model = classifier_random(cls, config_cls, config_values, seed)
    copy_tokenizer(source, folder, [f for f in files if f not in ("config.json", "pytorch_model.bin")])
    write_json(os.path.join(folder, "config.json"), {**config_values, "transformers_version": transformers.__version__})
    # What the real repos hold: torch.save of the state dict.
    torch.save(model.state_dict(), os.path.join(folder, "pytorch_model.bin"))
    keep_only(folder, files)
    answers = []
    with torch.no_grad():
        for text in TEXTS:
            encoded = tokenizer(text, return_tensors="pt", truncation=True, max_length=128)
            logits = model(**encoded).logits[0]
            probabilities = torch.softmax(logits, dim=-1)
            answers.append(
                {
                    "text": text,
                    "input_ids": encoded["input_ids"][0].tolist(),
                    "logits": logits.tolist(),
                    "scores": {config_values["id2label"][str(i)]: p for i, p in enumerate(probabilities.tolist())},
                }
            )
    return answers


def t5_repo(role, seed, tokenizer, files, safetensors):
    folder = os.path.join(HERE, role)
    shutil.rmtree(folder, ignore_errors=True)
    os.makedirs(folder)
    config_values = {**T5_TINY, "vocab_size": len(tokenizer)}
    model, aliases = t5_random(config_values, seed)
    copy_tokenizer("t5-json", folder, [f for f in files if f.startswith("tokenizer") or f == "special_tokens_map.json"])
    write_json(os.path.join(folder, "config.json"), {**config_values, "transformers_version": transformers.__version__})
    write_json(
        os.path.join(folder, "generation_config.json"),
        {"decoder_start_token_id": 0, "eos_token_id": 1, "pad_token_id": 0, "transformers_version": transformers.__version__},
    )
    state = model.state_dict()
    if safetensors:
        save_file({k: v.contiguous() for k, v in state.items() if k not in aliases}, os.path.join(folder, "model.safetensors"), metadata={"format": "pt"})
    else:
        torch.save(state, os.path.join(folder, "pytorch_model.bin"))
    keep_only(folder, files)
    answers = []
    with torch.no_grad():
        for text in TEXTS:
            if role == "summarizer":
                encoded = tokenizer("summarize: " + text, return_tensors="pt", truncation=True, max_length=512)
                options = SUMMARY_STAGE
            else:
                encoded = tokenizer(text, return_tensors="pt", truncation=True, max_length=HEADLINE_PADDING, padding="max_length")
                options = HEADLINE_STAGE
            tokens = model.generate(**encoded, **options, decoder_start_token_id=0, eos_token_id=1, pad_token_id=0)[0]
            answers.append({"text": text, "tokens": tokens.tolist(), "output": tokenizer.decode(tokens, skip_special_tokens=True).strip()})
    return answers


def main():
    torch.set_num_threads(1)
    answers = {"transformers": transformers.__version__, "texts": TEXTS}
    bertweet = BertweetTokenizer.from_pretrained(os.path.join(TOKENIZERS, "bertweet"))
    answers["sentiment"] = classifier_repo(
        "sentiment", RobertaForSequenceClassification, RobertaConfig, BERTWEET_TINY, 2, bertweet, "bertweet",
        ["config.json", "vocab.txt", "bpe.codes", "tokenizer_config.json", "special_tokens_map.json", "pytorch_model.bin"],
    )
    bert = BertTokenizerFast.from_pretrained(os.path.join(TOKENIZERS, "bert-json"))
    answers["genre"] = classifier_repo(
        "genre", BertForSequenceClassification, BertConfig, BERT_TINY, 23, bert, "bert-json",
        ["config.json", "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "pytorch_model.bin"],
    )
    t5 = T5TokenizerFast.from_pretrained(os.path.join(TOKENIZERS, "t5"))  # the spiece.model the tokenizer.json was made from
    answers["summarizer"] = t5_repo("summarizer", 5, t5, ["config.json", "generation_config.json", "tokenizer.json", "tokenizer_config.json", "model.safetensors"], safetensors=True)
    answers["headline"] = t5_repo("headline", 9, t5, ["config.json", "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "pytorch_model.bin"], safetensors=False)
    # T5's tokenizer.json carries SentencePiece's 240 kB charsmap: it stays gzipped here, and the
    # test serves it whole.
    write_json(os.path.join(HERE, "answers.json"), answers)
    for role in ("sentiment", "genre", "summarizer", "headline"):
        print(role, sorted(os.listdir(os.path.join(HERE, role))))


if __name__ == "__main__":
    sys.exit(main())
