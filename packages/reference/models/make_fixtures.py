"""Reference fixtures for Curator's text graph builders, made by Hugging Face transformers itself.

Builds tiny random models with transformers' own classes (T5ForConditionalGeneration,
RobertaForSequenceClassification, BertForSequenceClassification, CLIPTextModel), saves each as
`model.safetensors` and `pytorch_model.bin` (torch.save of the state dict) with its `config.json`,
and records transformers' outputs for fixed inputs. Test data only: never a runtime dependency.

    pip install torch transformers safetensors
    python make_fixtures.py                  # models, forward outputs, generate-<version>.json
    python make_fixtures.py --generate-only  # only generate-<version>.json, from the committed t5-tiny

Run it once with transformers 5.x and once more with `--generate-only` under 4.x: beam search's
stop check differs between the two, and both recordings are kept.
"""

import argparse
import json
import math
import os
import sys

import torch
import transformers
from safetensors.torch import save_file, load_file
from transformers import (
    BertConfig,
    BertForSequenceClassification,
    CLIPTextConfig,
    CLIPTextModel,
    GenerationConfig,
    RobertaConfig,
    RobertaForSequenceClassification,
    T5Config,
    T5ForConditionalGeneration,
)
from transformers.models.t5.modeling_t5 import T5Attention

HERE = os.path.dirname(os.path.abspath(__file__))
VERSION = transformers.__version__

# The configs are written to config.json as a published checkpoint would have them.
T5_TINY = {
    "architectures": ["T5ForConditionalGeneration"],
    "model_type": "t5",
    "vocab_size": 300,
    "d_model": 32,
    "d_kv": 8,
    "d_ff": 64,
    "num_layers": 2,
    "num_decoder_layers": 2,
    "num_heads": 4,
    "relative_attention_num_buckets": 32,
    "relative_attention_max_distance": 128,
    "dropout_rate": 0.1,
    "layer_norm_epsilon": 1e-6,
    "initializer_factor": 1.0,
    "feed_forward_proj": "relu",
    "tie_word_embeddings": True,
    "is_encoder_decoder": True,
    "use_cache": True,
    "decoder_start_token_id": 0,
    "eos_token_id": 1,
    "pad_token_id": 0,
}

# T5 v1.1 / flan-T5 features: gated-gelu, untied lm_head (no output rescaling), more decoder
# layers than encoder layers, other bucket settings.
T5_V1_1_TINY = {
    **T5_TINY,
    "vocab_size": 120,
    "d_model": 16,
    "d_kv": 4,
    "d_ff": 40,
    "num_layers": 2,
    "num_decoder_layers": 3,
    "num_heads": 4,
    "relative_attention_num_buckets": 16,
    "relative_attention_max_distance": 20,
    "feed_forward_proj": "gated-gelu",
    "tie_word_embeddings": False,
}

# finiteautomata/bertweet-base-sentiment-analysis's shape, tiny.
BERTWEET_TINY = {
    "architectures": ["RobertaForSequenceClassification"],
    "model_type": "roberta",
    "vocab_size": 128,
    "hidden_size": 32,
    "num_hidden_layers": 2,
    "num_attention_heads": 4,
    "intermediate_size": 64,
    "hidden_act": "gelu",
    "hidden_dropout_prob": 0.1,
    "attention_probs_dropout_prob": 0.1,
    "max_position_embeddings": 130,
    "type_vocab_size": 1,
    "initializer_range": 0.02,
    "layer_norm_eps": 1e-5,
    "position_embedding_type": "absolute",
    "pad_token_id": 1,
    "bos_token_id": 0,
    "eos_token_id": 2,
    "id2label": {"0": "NEG", "1": "NEU", "2": "POS"},
    "label2id": {"NEG": 0, "NEU": 1, "POS": 2},
}

# abhishek/autonlp-bbc-news-classification-37229289's shape, tiny.
BERT_TINY = {
    "architectures": ["BertForSequenceClassification"],
    "model_type": "bert",
    "vocab_size": 128,
    "hidden_size": 32,
    "num_hidden_layers": 2,
    "num_attention_heads": 4,
    "intermediate_size": 64,
    "hidden_act": "gelu",
    "hidden_dropout_prob": 0.1,
    "attention_probs_dropout_prob": 0.1,
    "max_position_embeddings": 64,
    "type_vocab_size": 2,
    "initializer_range": 0.02,
    "layer_norm_eps": 1e-12,
    "position_embedding_type": "absolute",
    "pad_token_id": 0,
    "problem_type": "single_label_classification",
    "id2label": {"0": "business", "1": "entertainment", "2": "politics", "3": "sport", "4": "tech"},
    "label2id": {"business": 0, "entertainment": 1, "politics": 2, "sport": 3, "tech": 4},
}

# Stable Diffusion v1's text encoder (openai/clip-vit-large-patch14's text half), tiny. Its
# config's eos_token_id is 2, which selects transformers' legacy pooling (argmax of the ids).
CLIP_TEXT_TINY = {
    "architectures": ["CLIPTextModel"],
    "model_type": "clip_text_model",
    "vocab_size": 128,
    "hidden_size": 32,
    "intermediate_size": 64,
    "num_hidden_layers": 2,
    "num_attention_heads": 4,
    "max_position_embeddings": 77,
    "hidden_act": "quick_gelu",
    "layer_norm_eps": 1e-5,
    "attention_dropout": 0.0,
    "dropout": 0.0,
    "initializer_range": 0.02,
    "initializer_factor": 1.0,
    "projection_dim": 32,
    "bos_token_id": 0,
    "eos_token_id": 2,
    "pad_token_id": 1,
}
CLIP_BOS, CLIP_EOS = 126, 127  # as in CLIP's vocabulary: the last two ids


def write_json(path, value):
    with open(path, "w") as f:
        json.dump(value, f, indent=2)
        f.write("\n")


def model_config(cls, values):
    return cls(**{k: v for k, v in values.items() if k != "architectures"})


def jitter_(tensor, generator, mean, std):
    with torch.no_grad():
        tensor.copy_(torch.randn(tensor.shape, generator=generator) * std + mean)


def save_checkpoint(folder, state_dict, aliases, config):
    """model.safetensors without tied aliases (as save_pretrained writes it); pytorch_model.bin with
    every state-dict entry, aliases sharing storage (as torch.save(model.state_dict()) writes it)."""
    os.makedirs(folder, exist_ok=True)
    write_json(os.path.join(folder, "config.json"), {**config, "transformers_version": VERSION})
    unique = {k: v.contiguous() for k, v in state_dict.items() if k not in aliases}
    save_file(unique, os.path.join(folder, "model.safetensors"), metadata={"format": "pt"})
    torch.save(state_dict, os.path.join(folder, "pytorch_model.bin"))


def t5_random(config_values, seed, gain=4.0, eos_scale=3.0, embedding_std=1.0, length_signal=20.0):
    """A T5 with weights that make generation interesting on a tiny model: sublayers strong enough
    that the output depends on the input, norms away from 1, and a decoder head that holds the
    end-of-sequence token back less the longer the output, so outputs end after a few to a few dozen
    tokens, at different lengths for different inputs."""
    torch.manual_seed(seed)
    config = model_config(T5Config, config_values)
    model = T5ForConditionalGeneration(config).eval()
    g = torch.Generator().manual_seed(seed)
    d, dkv, heads, ff = config.d_model, config.d_kv, config.num_heads, config.d_ff
    inner = dkv * heads

    for name, p in model.named_parameters():
        if name.endswith("layer_norm.weight") or name.endswith("final_layer_norm.weight"):
            jitter_(p, g, 1.0, 0.1)
        elif name == "shared.weight":
            jitter_(p, g, 0.0, embedding_std)
        elif name.endswith("relative_attention_bias.weight"):
            jitter_(p, g, 0.0, 1.0)
        elif name.endswith(".q.weight"):
            jitter_(p, g, 0.0, (d * dkv) ** -0.5)
        elif name.endswith(".k.weight") or name.endswith(".v.weight"):
            jitter_(p, g, 0.0, d**-0.5)
        elif name.endswith(".o.weight"):
            jitter_(p, g, 0.0, gain * inner**-0.5)
        elif ".wi" in name:
            jitter_(p, g, 0.0, d**-0.5)
        elif name.endswith(".wo.weight"):
            jitter_(p, g, 0.0, gain * ff**-0.5)
    if config_values["tie_word_embeddings"]:
        with torch.no_grad():
            model.shared.weight[config.eos_token_id] *= eos_scale
        aliases = {"encoder.embed_tokens.weight", "decoder.embed_tokens.weight", "lm_head.weight"}
        add_length_signal(model, length_signal)
    else:
        # transformers 5.x ties lm_head to shared whatever the config says; a v1.1 checkpoint has its own.
        model.lm_head.weight = torch.nn.Parameter(torch.randn((config.vocab_size, d), generator=g) * d**-0.5)
        aliases = {"encoder.embed_tokens.weight", "decoder.embed_tokens.weight"}
    return model, aliases


def add_length_signal(model, strength):
    """Head 0 of the decoder's first self-attention attends evenly to the whole prefix (no bias, no
    query), reads only the direction of the start token, and writes minus the end-of-sequence
    embedding: a push against ending that fades as 1/length."""
    config = model.config
    dkv = config.d_kv
    attention = model.decoder.block[0].layer[0].SelfAttention
    norm = model.decoder.block[0].layer[0].layer_norm.weight
    with torch.no_grad():
        attention.relative_attention_bias.weight[:, 0] = 0
        attention.q.weight[0:dkv, :] = 0
        start = model.shared.weight[config.decoder_start_token_id]
        normed_start = start * torch.rsqrt(start.pow(2).mean()) * norm
        channel = torch.zeros(dkv)
        channel[0] = 1.0
        attention.v.weight[0:dkv, :] = torch.outer(channel, normed_start / normed_start.norm())
        eos = model.shared.weight[config.eos_token_id]
        attention.o.weight[:, 0:dkv] = -strength * torch.outer(eos / eos.norm(), channel)


def classifier_random(cls, config_cls, config_values, seed):
    """Weights larger than transformers' init (std 0.02 makes every input give the same logits on a
    32-wide model), norms jittered away from 1/0 so a swapped scale and bias shows."""
    torch.manual_seed(seed)
    model = cls(model_config(config_cls, config_values)).eval()
    g = torch.Generator().manual_seed(seed)
    for name, p in model.named_parameters():
        if "LayerNorm.weight" in name or "layer_norm" in name and name.endswith(".weight"):
            jitter_(p, g, 1.0, 0.1)
        elif name.endswith(".bias"):
            jitter_(p, g, 0.0, 0.05)
        elif "embedding" in name:
            jitter_(p, g, 0.0, 0.5)
        else:  # linear [out, in]
            jitter_(p, g, 0.0, 1.5 / math.sqrt(p.shape[1]))
    return model


def ids_tensor(rows, pad):
    width = max(len(r) for r in rows)
    ids = torch.tensor([r + [pad] * (width - len(r)) for r in rows], dtype=torch.long)
    mask = torch.tensor([[1] * len(r) + [0] * (width - len(r)) for r in rows], dtype=torch.long)
    return ids, mask


# --- T5 ---------------------------------------------------------------------------------------

# Encoder inputs of assorted lengths, each ending with </s> (id 1), as textgen's tests make them.
T5_INPUTS = [[3 + ((i * 37 + j * 11) % 290) for j in range(5 + i)] + [1] for i in range(8)]
T5_DECODER_INPUTS = [[0, 17, 99, 240, 5], [0, 3, 3, 250, 1], [0, 42, 7, 8, 9]]


def t5_forward(folder, model, config_values):
    vocab = config_values["vocab_size"]
    rows = [[t % vocab for t in r] for r in T5_INPUTS[:3]]
    input_ids, attention_mask = ids_tensor(rows, config_values["pad_token_id"])
    decoder_input_ids = torch.tensor([[t % vocab for t in r] for r in T5_DECODER_INPUTS], dtype=torch.long)
    with torch.no_grad():
        out = model(input_ids=input_ids, attention_mask=attention_mask, decoder_input_ids=decoder_input_ids)
    save_file(
        {
            "input_ids": input_ids,
            "attention_mask": attention_mask,
            "decoder_input_ids": decoder_input_ids,
            "encoder_last_hidden_state": out.encoder_last_hidden_state.contiguous(),
            "logits": out.logits.contiguous(),
        },
        os.path.join(folder, "outputs.safetensors"),
    )


def relative_position_buckets(folder, configs):
    """transformers' own bucket of every relative position in -300..300 (memory - query)."""
    relative = torch.arange(-300, 301)
    tables = []
    for num_buckets, max_distance in configs:
        for bidirectional in (True, False):
            buckets = T5Attention._relative_position_bucket(relative, bidirectional=bidirectional, num_buckets=num_buckets, max_distance=max_distance)
            tables.append({"num_buckets": num_buckets, "max_distance": max_distance, "bidirectional": bidirectional, "relative_positions_from": -300, "buckets": buckets.tolist()})
    write_json(os.path.join(folder, "relative-position-buckets.json"), tables)


def load_t5(folder):
    with open(os.path.join(folder, "config.json")) as f:
        values = json.load(f)
    values.pop("transformers_version", None)
    model = T5ForConditionalGeneration(model_config(T5Config, values)).eval()
    state = load_file(os.path.join(folder, "model.safetensors"))
    missing, unexpected = model.load_state_dict(state, strict=False)
    assert not unexpected, unexpected
    assert set(missing) <= {"encoder.embed_tokens.weight", "decoder.embed_tokens.weight", "lm_head.weight"}, missing
    model.tie_weights()
    assert torch.equal(model.lm_head.weight, state["shared.weight"])
    return model, values


# Each run: a name, generate() options (besides the token ids of config.json), which inputs.
GENERATE_RUNS = [
    ("greedy", {"num_beams": 1, "max_new_tokens": 20}),
    ("beam4_length_penalty2_early_stopping", {"num_beams": 4, "length_penalty": 2.0, "early_stopping": True, "max_length": 30}),
    ("beam4_no_repeat_ngram2", {"num_beams": 4, "no_repeat_ngram_size": 2, "max_length": 40}),
    ("beam4_min_length10_no_early_stopping", {"num_beams": 4, "min_length": 10, "early_stopping": False, "max_length": 30}),
    ("beam4_return4", {"num_beams": 4, "num_return_sequences": 4, "max_length": 30}),
]
# The stages as the reference tutorial runs them (ids-level: the "summarize: " prefix is text).
HEADLINE_STAGE = {"num_beams": 4, "no_repeat_ngram_size": 2, "max_length": 84}
HEADLINE_PADDING = 384
SUMMARY_STAGE = {"num_beams": 4, "length_penalty": 2.0, "early_stopping": True, "max_length": 30}


def generate_one(model, values, input_ids, attention_mask, options):
    config = GenerationConfig(
        decoder_start_token_id=values["decoder_start_token_id"],
        eos_token_id=values["eos_token_id"],
        pad_token_id=values["pad_token_id"],
        do_sample=False,
        **options,
    )
    with torch.no_grad():
        out = model.generate(
            input_ids=input_ids,
            attention_mask=attention_mask,
            generation_config=config,
            return_dict_in_generate=True,
            output_scores=True,
        )
    result = {"sequences": out.sequences.tolist()}
    if getattr(out, "sequences_scores", None) is not None:
        result["sequences_scores"] = [float(s) for s in out.sequences_scores]
    return result


def t5_generate(folder):
    model, values = load_t5(folder)
    runs = []
    for name, options in GENERATE_RUNS:
        for i, row in enumerate(T5_INPUTS):
            ids = torch.tensor([row], dtype=torch.long)
            runs.append({"name": name, "input": i, "options": options, **generate_one(model, values, ids, torch.ones_like(ids), options)})
    for stage, options, padding in (("headline_stage", HEADLINE_STAGE, HEADLINE_PADDING), ("summary_stage", SUMMARY_STAGE, None)):
        for i, row in enumerate(T5_INPUTS[:4]):
            width = padding or len(row)
            ids = torch.tensor([row + [values["pad_token_id"]] * (width - len(row))], dtype=torch.long)
            mask = torch.tensor([[1] * len(row) + [0] * (width - len(row))], dtype=torch.long)
            runs.append({"name": stage, "input": i, "padded_to": padding, "options": options, **generate_one(model, values, ids, mask, options)})
    write_json(
        os.path.join(folder, f"generate-{VERSION}.json"),
        {"transformers_version": VERSION, "torch_version": torch.__version__, "inputs": T5_INPUTS, "runs": runs},
    )
    lengths = sorted(len(r["sequences"][0]) for r in runs)
    print(f"t5-tiny: {len(runs)} generate() runs recorded with transformers {VERSION}; output lengths {lengths}")


# --- classifiers ------------------------------------------------------------------------------


def classifier_fixture(name, cls, config_cls, values, seed, rows, token_types=None):
    folder = os.path.join(HERE, name)
    model = classifier_random(cls, config_cls, values, seed)
    save_checkpoint(folder, model.state_dict(), set(), values)
    input_ids, attention_mask = ids_tensor(rows, values["pad_token_id"])
    inputs = {"input_ids": input_ids, "attention_mask": attention_mask}
    if token_types is not None:
        inputs["token_type_ids"] = torch.tensor([t + [0] * (input_ids.shape[1] - len(t)) for t in token_types], dtype=torch.long)
    with torch.no_grad():
        logits = model(**inputs).logits
    save_file({**inputs, "logits": logits.contiguous()}, os.path.join(folder, "outputs.safetensors"))
    print(f"{name}: logits {logits.shape[0]}x{logits.shape[1]}")


# --- CLIP text encoder ------------------------------------------------------------------------


def clip_fixture():
    folder = os.path.join(HERE, "clip-text-tiny")
    model = classifier_random(CLIPTextModel, CLIPTextConfig, CLIP_TEXT_TINY, 31)
    # transformers 5.x names the tensors without the `text_model.` prefix; published checkpoints
    # (and transformers 4.x) have it.
    state = {(k if k.startswith("text_model.") else f"text_model.{k}"): v for k, v in model.state_dict().items()}
    save_checkpoint(folder, state, set(), CLIP_TEXT_TINY)
    length = CLIP_TEXT_TINY["max_position_embeddings"]

    def prompt(words):  # <|startoftext|> words <|endoftext|>, padded with <|endoftext|> (SD v1's pad token)
        row = [CLIP_BOS] + words + [CLIP_EOS]
        return row + [CLIP_EOS] * (length - len(row))

    input_ids = torch.tensor([prompt([5, 9, 40, 77]), prompt([]), prompt([100 - i for i in range(60)])], dtype=torch.long)
    short = torch.tensor([[CLIP_BOS, 8, 9, 10, CLIP_EOS, CLIP_EOS], [CLIP_BOS, 20, CLIP_EOS, 3, 4, CLIP_EOS]], dtype=torch.long)
    with torch.no_grad():
        out = model(input_ids=input_ids)
        out_short = model(input_ids=short)
        # The same weights with a config whose eos_token_id is the real end-of-text id (transformers'
        # non-legacy pooling: the first position of that id).
        holder = model.text_model if hasattr(model, "text_model") else model
        holder.eos_token_id = CLIP_EOS
        eos_pooled = model(input_ids=short).pooler_output
    save_file(
        {
            "input_ids": input_ids,
            "last_hidden_state": out.last_hidden_state.contiguous(),
            "pooler_output": out.pooler_output.contiguous(),
            "short_input_ids": short,
            "short_last_hidden_state": out_short.last_hidden_state.contiguous(),
            "short_pooler_output": out_short.pooler_output.contiguous(),
            "short_pooler_output_eos_token_id_127": eos_pooled.contiguous(),
        },
        os.path.join(folder, "outputs.safetensors"),
    )
    print("clip-text-tiny: last_hidden_state", tuple(out.last_hidden_state.shape))


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--generate-only", action="store_true", help="only record generate() with this transformers version")
    args = parser.parse_args()
    torch.set_num_threads(1)
    t5_folder = os.path.join(HERE, "t5-tiny")
    if not args.generate_only:
        model, aliases = t5_random(T5_TINY, 5)
        save_checkpoint(t5_folder, model.state_dict(), aliases, T5_TINY)
        t5_forward(t5_folder, model, T5_TINY)
        relative_position_buckets(t5_folder, [(32, 128), (16, 20)])
        v11_folder = os.path.join(HERE, "t5-v1_1-tiny")
        model, aliases = t5_random(T5_V1_1_TINY, 6)
        save_checkpoint(v11_folder, model.state_dict(), aliases, T5_V1_1_TINY)
        t5_forward(v11_folder, model, T5_V1_1_TINY)

        bertweet_rows = [[0, 40, 41, 42, 43, 2], [0, 50, 51, 52, 53, 54, 55, 56, 57, 2], [0, 7, 2], [0, 99, 1, 1, 98, 2]]
        classifier_fixture("bertweet-tiny", RobertaForSequenceClassification, RobertaConfig, BERTWEET_TINY, 2, bertweet_rows)
        bert_rows = [[101 % 128, 40, 41, 42, 102 % 128], [101 % 128, 50, 51, 102 % 128, 60, 61, 62, 102 % 128], [101 % 128, 7, 102 % 128]]
        bert_types = [[0, 0, 0, 0, 0], [0, 0, 0, 0, 1, 1, 1, 1], [0, 0, 0]]
        classifier_fixture("bert-tiny", BertForSequenceClassification, BertConfig, BERT_TINY, 23, bert_rows, bert_types)
        clip_fixture()
    t5_generate(t5_folder)


if __name__ == "__main__":
    sys.exit(main())
