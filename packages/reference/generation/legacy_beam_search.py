"""Records what transformers <= 4.48 beam search generated on the tiny T5 of packages/reference/models.

transformers 4.49 replaced the beam search of `generate()` (PR #35802, a vectorized `_beam_search`,
the same in 4.57.6 and 5.18, recorded by ../models/make_fixtures.py). The older search drove the
`BeamSearchScorer` class, which decides when to stop and which beams finish. No transformers <= 4.48
wheel is at hand here, but 4.57.6 still ships that class: this script runs it inside the loop the old
`_beam_search` ran (log-softmax, logits processors, the top 2 x num_beams candidates of all beams,
`process`, reorder, stop on `is_done` or at max_length, `finalize`), on every beam-search run of
../models/t5-tiny/generate-5.18.0.json, and writes `legacy-beam-search.json`. Scores, stopping and
the finished hypotheses are the class's own; the loop around it is what the old `_beam_search` did.

    pip install torch "transformers>=4.40,<4.62" safetensors   # a version that ships BeamSearchScorer
    python packages/reference/generation/legacy_beam_search.py
"""

import json
import os
import warnings

import torch
import transformers
from safetensors.torch import load_file
from transformers import T5Config, T5ForConditionalGeneration
from transformers.generation.beam_search import BeamSearchScorer
from transformers.generation.logits_process import LogitsProcessorList, MinLengthLogitsProcessor, NoRepeatNGramLogitsProcessor

warnings.filterwarnings("ignore")
transformers.logging.set_verbosity_error()

HERE = os.path.dirname(os.path.abspath(__file__))
T5_DIR = os.path.join(HERE, "..", "models", "t5-tiny")


def load_t5():
    with open(os.path.join(T5_DIR, "config.json")) as file:
        values = json.load(file)
    values.pop("transformers_version", None)
    model = T5ForConditionalGeneration(T5Config(**values)).eval()
    state = load_file(os.path.join(T5_DIR, "model.safetensors"))
    model.load_state_dict(state, strict=False)
    model.tie_weights()
    assert torch.equal(model.lm_head.weight, state["shared.weight"])
    return model, values


def processors(options, eos):
    # In the order transformers builds them: no-repeat n-grams before min length.
    out = LogitsProcessorList()
    if options.get("no_repeat_ngram_size"):
        out.append(NoRepeatNGramLogitsProcessor(options["no_repeat_ngram_size"]))
    if options.get("min_length"):
        out.append(MinLengthLogitsProcessor(options["min_length"], eos))
    return out


def legacy_beam_search(model, values, input_ids, attention_mask, options):
    num_beams = options["num_beams"]
    max_length = options["max_length"]  # decoder tokens, the start token included
    eos = torch.tensor([values["eos_token_id"]])
    pad = values["pad_token_id"]
    scorer = BeamSearchScorer(
        batch_size=1,
        num_beams=num_beams,
        device=torch.device("cpu"),
        length_penalty=options.get("length_penalty", 1.0),
        do_early_stopping=options.get("early_stopping", False),
        num_beam_hyps_to_keep=options.get("num_return_sequences", 1),
        max_length=max_length,
    )
    logits_processor = processors(options, eos)
    with torch.no_grad():
        encoded = model.get_encoder()(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
        hidden = encoded.repeat_interleave(num_beams, dim=0)
        mask = attention_mask.repeat_interleave(num_beams, dim=0)
        decoder = torch.full((num_beams, 1), values["decoder_start_token_id"], dtype=torch.long)
        # Only the first beam counts at the first step.
        beam_scores = torch.zeros(num_beams)
        beam_scores[1:] = -1e9
        while True:
            logits = model(encoder_outputs=(hidden,), attention_mask=mask, decoder_input_ids=decoder).logits[:, -1, :]
            scores = torch.nn.functional.log_softmax(logits.float(), dim=-1)
            scores = logits_processor(decoder, scores) + beam_scores[:, None]
            vocab = scores.shape[-1]
            keep = max(2, 1 + eos.shape[0]) * num_beams
            top_scores, top = torch.topk(scores.view(1, num_beams * vocab), keep, dim=1, largest=True, sorted=True)
            beam_of = torch.div(top, vocab, rounding_mode="floor")
            tokens = top % vocab
            out = scorer.process(decoder, top_scores, tokens, beam_of, pad_token_id=pad, eos_token_id=eos, decoder_prompt_len=1)
            beam_scores = out["next_beam_scores"]
            decoder = torch.cat([decoder[out["next_beam_indices"], :], out["next_beam_tokens"].unsqueeze(-1)], dim=-1)
            if scorer.is_done or decoder.shape[-1] >= max_length:
                break
        final = scorer.finalize(decoder, beam_scores, tokens, beam_of, max_length=max_length, pad_token_id=pad, eos_token_id=eos, decoder_prompt_len=1)
    return {"sequences": final["sequences"].tolist(), "sequences_scores": [float(s) for s in final["sequence_scores"]]}


def main():
    model, values = load_t5()
    with open(os.path.join(T5_DIR, "generate-5.18.0.json")) as file:
        recorded = json.load(file)
    runs = []
    for run in recorded["runs"]:
        if run["options"].get("num_beams", 1) <= 1:
            continue
        row = recorded["inputs"][run["input"]]
        width = run.get("padded_to") or len(row)
        ids = torch.tensor([row + [values["pad_token_id"]] * (width - len(row))], dtype=torch.long)
        mask = torch.tensor([[1] * len(row) + [0] * (width - len(row))], dtype=torch.long)
        out = legacy_beam_search(model, values, ids, mask, run["options"])
        runs.append({"name": run["name"], "input": run["input"], "padded_to": run.get("padded_to"), "options": run["options"], **out})
    path = os.path.join(HERE, "legacy-beam-search.json")
    with open(path, "w") as file:
        json.dump({"made_with": f"transformers {transformers.__version__} BeamSearchScorer in the <= 4.48 loop", "torch_version": torch.__version__, "inputs": recorded["inputs"], "runs": runs}, file, indent=1)
        file.write("\n")
    changed = sum(r["sequences"] != o["sequences"] for r, o in zip(runs, (o for o in recorded["runs"] if o["options"].get("num_beams", 1) > 1)))
    print(f"wrote {path}: {len(runs)} beam-search runs, {changed} whose tokens differ from transformers 5.18")


if __name__ == "__main__":
    main()
