"""Reference ONNX exports of the tiny fixture models, made by PyTorch's own exporter (torch.onnx.export).

`curator models parity` compares Curator's conversion with a reference export. On a machine with
internet that reference is optimum's export (or the published Xenova/t5-small); here it is this
script's: the committed checkpoints of this folder loaded with transformers and traced by
torch.onnx.export into optimum's file layout and I/O names, which Curator's engines read:

  (each folder also gets the model's config.json, as optimum's exports do)
  bertweet-tiny/onnx-reference/model.onnx   input_ids, attention_mask -> logits
  bert-tiny/onnx-reference/model.onnx       input_ids, attention_mask, token_type_ids -> logits
  t5-tiny/onnx-reference/encoder_model.onnx input_ids, attention_mask -> last_hidden_state
                         decoder_model.onnx input_ids, encoder_attention_mask, encoder_hidden_states
                                            -> logits, present.{i}.{decoder,encoder}.{key,value}
                decoder_with_past_model.onnx input_ids, encoder_attention_mask,
                                            past_key_values.{i}.{decoder,encoder}.{key,value}
                                            -> logits, present.{i}.decoder.{key,value}

The traced graphs are checked against PyTorch at several batch sizes and lengths before they are
written (a trace that baked in a shape fails here, not in Curator's tests). Test data only.

    pip install torch transformers safetensors onnx onnxruntime
    python export_onnx.py        # torch 2.13 and transformers 5.18 made the committed files
"""

import json
import os
import shutil
import sys

import numpy as np
import onnxruntime
import torch
from safetensors.torch import load_file
from transformers import BertConfig, BertForSequenceClassification, RobertaConfig, RobertaForSequenceClassification, T5Config, T5ForConditionalGeneration
from transformers.cache_utils import EncoderDecoderCache

HERE = os.path.dirname(os.path.abspath(__file__))
OPSET = 17


def load(folder, cls, config_cls):
    with open(os.path.join(HERE, folder, "config.json")) as f:
        values = json.load(f)
    values.pop("transformers_version", None)
    values.pop("architectures", None)
    model = cls(config_cls(**values)).eval()
    state = load_file(os.path.join(HERE, folder, "model.safetensors"))
    missing, unexpected = model.load_state_dict(state, strict=False)
    assert not unexpected, unexpected
    if hasattr(model, "tie_weights"):
        model.tie_weights()
    assert set(missing) <= {"encoder.embed_tokens.weight", "decoder.embed_tokens.weight", "lm_head.weight"}, missing
    return model, values


def export(module, args, path, input_names, output_names, dynamic_axes):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    # An optimum export carries the model's config.json beside the graphs (the engines read it).
    shutil.copyfile(os.path.join(os.path.dirname(os.path.dirname(path)), "config.json"), os.path.join(os.path.dirname(path), "config.json"))
    torch.onnx.export(module, args, path, input_names=input_names, output_names=output_names, dynamic_axes=dynamic_axes, opset_version=OPSET, dynamo=False, do_constant_folding=True)


def run(path, feeds):
    session = onnxruntime.InferenceSession(path, providers=["CPUExecutionProvider"])
    return session.run(None, {k: v.numpy() for k, v in feeds.items()})


def check(name, actual, expected, tolerance=1e-4):
    difference = float(np.max(np.abs(actual - expected.detach().numpy())))
    assert difference < tolerance, f"{name}: {difference}"
    print(f"  {name}: max |difference| {difference:.2e}")


# --- classifiers ---------------------------------------------------------------------------------


class Classifier(torch.nn.Module):
    def __init__(self, model, token_types):
        super().__init__()
        self.model = model
        self.token_types = token_types

    def forward(self, input_ids, attention_mask, token_type_ids=None):
        return self.model(input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids if self.token_types else None).logits


def classifier(folder, cls, config_cls, token_types):
    print(folder)
    model, values = load(folder, cls, config_cls)
    wrapper = Classifier(model, token_types).eval()
    names = ["input_ids", "attention_mask"] + (["token_type_ids"] if token_types else [])
    axes = {name: {0: "batch_size", 1: "sequence_length"} for name in names}
    axes["logits"] = {0: "batch_size"}
    ids = torch.tensor([[values.get("bos_token_id", 2), 7, 8, 9, 10, 2], [values.get("bos_token_id", 2), 11, 12, 2, 0, 0]])
    mask = torch.tensor([[1] * 6, [1, 1, 1, 1, 0, 0]])
    args = (ids, mask) + ((torch.zeros_like(ids),) if token_types else ())
    path = os.path.join(HERE, folder, "onnx-reference", "model.onnx")
    export(wrapper, args, path, names, ["logits"], axes)
    for batch, length in [(1, 3), (3, 9)]:
        ids = torch.randint(3, values["vocab_size"], (batch, length))
        mask = torch.ones_like(ids)
        mask[0, -1] = 0
        feeds = {"input_ids": ids, "attention_mask": mask, **({"token_type_ids": torch.zeros_like(ids)} if token_types else {})}
        with torch.no_grad():
            expected = wrapper(*feeds.values())
        check(f"logits {batch}x{length}", run(path, feeds)[0], expected)


# --- T5 -------------------------------------------------------------------------------------------


class Encoder(torch.nn.Module):
    def __init__(self, model):
        super().__init__()
        self.encoder = model.get_encoder()

    def forward(self, input_ids, attention_mask):
        return self.encoder(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state


class Decoder(torch.nn.Module):
    """optimum's decoder_model (no past in, the whole cache out) and decoder_with_past_model."""

    def __init__(self, model, with_past):
        super().__init__()
        self.model = model
        self.with_past = with_past
        self.layers = model.config.num_decoder_layers

    def logits(self, hidden):
        if self.model.config.tie_word_embeddings:
            hidden = hidden * (self.model.config.d_model**-0.5)
        return self.model.lm_head(hidden)

    def forward(self, input_ids, encoder_attention_mask, encoder_hidden_states, *past):
        cache = EncoderDecoderCache([tuple(past[4 * i : 4 * i + 4]) for i in range(self.layers)]) if self.with_past else EncoderDecoderCache([])
        if not self.with_past:
            from transformers.cache_utils import DynamicCache

            cache = EncoderDecoderCache(DynamicCache(), DynamicCache())
        out = self.model.decoder(
            input_ids=input_ids,
            encoder_hidden_states=encoder_hidden_states,
            encoder_attention_mask=encoder_attention_mask,
            past_key_values=cache,
            use_cache=True,
        )
        present = []
        for i in range(self.layers):
            present += [out.past_key_values.self_attention_cache.layers[i].keys, out.past_key_values.self_attention_cache.layers[i].values]
            if not self.with_past:
                present += [out.past_key_values.cross_attention_cache.layers[i].keys, out.past_key_values.cross_attention_cache.layers[i].values]
        return (self.logits(out.last_hidden_state), *present)


def t5(folder):
    print(folder)
    model, values = load(folder, T5ForConditionalGeneration, T5Config)
    layers = values.get("num_decoder_layers", values["num_layers"])
    heads, dkv, d = values["num_heads"], values["d_kv"], values["d_model"]
    out_dir = os.path.join(HERE, folder, "onnx-reference")
    batch_seq = {0: "batch_size", 1: "encoder_sequence_length"}

    encoder = Encoder(model).eval()
    ids = torch.tensor([[5, 6, 7, 8, 1], [9, 10, 1, 0, 0]])
    mask = torch.tensor([[1, 1, 1, 1, 1], [1, 1, 1, 0, 0]])
    encoder_path = os.path.join(out_dir, "encoder_model.onnx")
    export(encoder, (ids, mask), encoder_path, ["input_ids", "attention_mask"], ["last_hidden_state"], {"input_ids": batch_seq, "attention_mask": batch_seq, "last_hidden_state": batch_seq})

    names_present = lambda with_encoder: [n for i in range(layers) for n in ([f"present.{i}.decoder.key", f"present.{i}.decoder.value"] + ([f"present.{i}.encoder.key", f"present.{i}.encoder.value"] if with_encoder else []))]
    with torch.no_grad():
        hidden = encoder(ids, mask)
    decoder_ids = torch.tensor([[0, 3, 4], [0, 5, 6]])
    first = Decoder(model, with_past=False).eval()
    first_path = os.path.join(out_dir, "decoder_model.onnx")
    present_first = names_present(True)
    axes = {"input_ids": {0: "batch_size", 1: "decoder_sequence_length"}, "encoder_attention_mask": batch_seq, "encoder_hidden_states": batch_seq, "logits": {0: "batch_size", 1: "decoder_sequence_length"}}
    for name in present_first:
        axes[name] = {0: "batch_size", 2: "encoder_sequence_length" if ".encoder." in name else "decoder_sequence_length"}
    export(first, (decoder_ids, mask, hidden), first_path, ["input_ids", "encoder_attention_mask", "encoder_hidden_states"], ["logits", *present_first], axes)

    with torch.no_grad():
        first_out = first(decoder_ids, mask, hidden)
    past = list(first_out[1:])
    with_past = Decoder(model, with_past=True).eval()
    past_names = [n.replace("present.", "past_key_values.") for n in present_first]
    present_past = names_present(False)
    axes = {"input_ids": {0: "batch_size"}, "encoder_attention_mask": batch_seq, "encoder_hidden_states": batch_seq, "logits": {0: "batch_size"}}
    for name in past_names:
        axes[name] = {0: "batch_size", 2: "encoder_sequence_length" if ".encoder." in name else "past_decoder_sequence_length"}
    for name in present_past:
        axes[name] = {0: "batch_size", 2: "past_decoder_sequence_length + 1"}
    past_path = os.path.join(out_dir, "decoder_with_past_model.onnx")
    export(with_past, (decoder_ids[:, -1:], mask, hidden, *past), past_path, ["input_ids", "encoder_attention_mask", "encoder_hidden_states", *past_names], ["logits", *present_past], axes)

    # Check against PyTorch's own generate-style forward at other batch sizes and lengths.
    for batch, enc_len, dec_len in [(1, 7, 1), (3, 4, 6)]:
        ids = torch.randint(3, values["vocab_size"], (batch, enc_len))
        mask = torch.ones_like(ids)
        mask[-1, -1] = 0
        decoder_ids = torch.cat([torch.zeros((batch, 1), dtype=torch.long), torch.randint(3, values["vocab_size"], (batch, dec_len))], dim=1)
        with torch.no_grad():
            reference = model(input_ids=ids, attention_mask=mask, decoder_input_ids=decoder_ids)
        [hidden_onnx] = run(encoder_path, {"input_ids": ids, "attention_mask": mask})
        check(f"encoder {batch}x{enc_len}", hidden_onnx, reference.encoder_last_hidden_state)
        hidden = torch.from_numpy(hidden_onnx)
        # All but the last decoder token in one step, then the last through the cached graph.
        outs = run(first_path, {"input_ids": decoder_ids[:, :-1], "encoder_attention_mask": mask, "encoder_hidden_states": hidden})
        check(f"decoder_model {batch}x{dec_len}", outs[0], reference.logits[:, :-1])
        feeds = {"input_ids": decoder_ids[:, -1:], "encoder_attention_mask": mask, "encoder_hidden_states": hidden}
        feeds.update({name: torch.from_numpy(value) for name, value in zip(past_names, outs[1:])})
        session = onnxruntime.InferenceSession(past_path, providers=["CPUExecutionProvider"])
        wanted = {i.name for i in session.get_inputs()}
        last = session.run(None, {k: v.numpy() for k, v in feeds.items() if k in wanted})
        check(f"decoder_with_past step {dec_len + 1}", last[0], reference.logits[:, -1:])


def main():
    torch.manual_seed(0)
    torch.set_num_threads(1)
    classifier("bertweet-tiny", RobertaForSequenceClassification, RobertaConfig, token_types=False)
    classifier("bert-tiny", BertForSequenceClassification, BertConfig, token_types=True)
    t5("t5-tiny")


if __name__ == "__main__":
    sys.exit(main())
