#!/usr/bin/env python3
"""The independent Python route to Curator's ONNX files: Hugging Face optimum's exporter.

Curator converts the pinned checkpoints itself (TypeScript builders, `npm start`); this script
exports the same pinned commits with optimum, in the layout Curator's conversion writes
(docs/models.md, "Converted folder layout"), so that `curator models parity <role> --reference
<out>/optimum/<model-id>` can compare the two, and so its files can fill a CURATOR_MODELS_EXPORTS
bucket. Records the sha256 and size of every file (checksums.json). Runs inside
docker/models.Dockerfile (pinned versions).

    export.py --out /out [--only sentiment,genre,summarizer,headline,image]
              [--precisions fp32,fp16] [--push s3://bucket/prefix]

Output: /out/optimum/<model-id>/... and /out/optimum/checksums.json.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

# Which checkpoint each role is exported from: the commits packages/models/src/manifest.ts pins
# (override with <ROLE>_REVISION). The commit actually exported is recorded in checksums.json.
@dataclass
class Recipe:
    role: str
    model_id: str
    source: str
    source_revision: str
    kind: str  # classifier | seq2seq | diffusion
    onnx_files: list[str] = field(default_factory=list)
    keep: list[str] = field(default_factory=list)


RECIPES = [
    Recipe(
        role="sentiment",
        model_id="finiteautomata/bertweet-base-sentiment-analysis",
        source="finiteautomata/bertweet-base-sentiment-analysis",
        source_revision=os.environ.get("SENTIMENT_REVISION", "924fc4c80bccb8003d21fe84dd92c7887717f245"),
        kind="classifier",
        onnx_files=["model.onnx"],
        keep=["config.json", "vocab.txt", "bpe.codes", "tokenizer_config.json", "special_tokens_map.json", "added_tokens.json"],
    ),
    Recipe(
        role="genre",
        model_id="abhishek/autonlp-bbc-news-classification-37229289",
        source="abhishek/autonlp-bbc-news-classification-37229289",
        source_revision=os.environ.get("GENRE_REVISION", "7feb5c325c92f2425f7c338160cdb5afc117aaed"),
        kind="classifier",
        onnx_files=["model.onnx"],
        keep=["config.json", "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "vocab.txt"],
    ),
    Recipe(
        role="headline",
        model_id="JulesBelveze/t5-small-headline-generator",
        source="JulesBelveze/t5-small-headline-generator",
        source_revision=os.environ.get("HEADLINE_REVISION", "4729a570fd372502c8024a2716cc7358f31ba0d3"),
        kind="seq2seq",
        onnx_files=["encoder_model.onnx", "decoder_model_merged.onnx"],
        keep=["config.json", "generation_config.json", "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json"],
    ),
    Recipe(
        role="image",
        model_id="OFA-Sys/small-stable-diffusion-v0",
        source="OFA-Sys/small-stable-diffusion-v0",
        source_revision=os.environ.get("IMAGE_REVISION", "38e10e5e71e8fbf717a47a81e7543cd01c1a8140"),
        kind="diffusion",
        onnx_files=["text_encoder/model.onnx", "unet/model.onnx", "vae_decoder/model.onnx"],
        keep=[
            "model_index.json",
            "scheduler/scheduler_config.json",
            "tokenizer/vocab.json",
            "tokenizer/merges.txt",
            "tokenizer/tokenizer_config.json",
            "tokenizer/special_tokens_map.json",
            "text_encoder/config.json",
            "unet/config.json",
            "vae_decoder/config.json",
        ],
    ),
    Recipe(
        role="summarizer",
        model_id="google-t5/t5-small",
        source="google-t5/t5-small",
        source_revision=os.environ.get("SUMMARIZER_REVISION", "df1b051c49625cf57a3d0d8d3863ed4d13564fe4"),
        kind="seq2seq",
        onnx_files=["encoder_model.onnx", "decoder_model_merged.onnx"],
        keep=["config.json", "generation_config.json", "tokenizer.json", "tokenizer_config.json"],
    ),
]

DEFAULT_ROLES = ["sentiment", "genre", "summarizer", "headline", "image"]


def log(message: str) -> None:
    print(f"[export] {message}", flush=True)


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def precision_name(path: str, precision: str) -> str:
    """Curator's (and transformers.js') naming: encoder_model.onnx -> encoder_model_fp16.onnx / _quantized.onnx."""
    if precision == "fp32":
        return path
    suffix = {"fp16": "_fp16", "int8": "_quantized"}[precision]
    return path[: -len(".onnx")] + suffix + ".onnx"


def resolved_commit(repo: str, revision: str) -> str:
    from huggingface_hub import HfApi

    return HfApi().model_info(repo, revision=revision).sha


def onnx_export(recipe: Recipe, work: Path) -> Path:
    """Runs optimum's exporter into `work` and returns the folder it wrote."""
    from optimum.exporters.onnx import main_export

    # Diffusion pipelines: "auto" reads model_index.json (the task's name changed across optimum releases).
    task = {"classifier": "text-classification", "seq2seq": "text2text-generation-with-past", "diffusion": "auto"}[recipe.kind]
    out = work / "optimum"
    log(f"{recipe.role}: optimum export of {recipe.source}@{recipe.source_revision} ({task})")
    main_export(
        model_name_or_path=recipe.source,
        output=out,
        task=task,
        revision=recipe.source_revision,
        opset=17,
        device="cpu",
        # The merged decoder (with and without past key/values in one graph) is what Curator runs.
        no_post_process=False,
        do_validation=True,
    )
    return out


def save_model(model, path: Path, external_data: bool) -> None:
    import onnx

    path.parent.mkdir(parents=True, exist_ok=True)
    if external_data:
        # Protobuf cannot hold more than 2 GB: weights go to <name>.onnx_data beside the graph.
        onnx.save_model(model, str(path), save_as_external_data=True, all_tensors_to_one_file=True, location=path.name + "_data", size_threshold=1024)
    else:
        onnx.save_model(model, str(path))


def arrange(recipe: Recipe, exported: Path, staged: Path, precisions: list[str]) -> None:
    """Moves optimum's output into Curator's layout and writes the fp16/int8 variants."""
    import onnx

    # optimum writes the graphs where Curator's conversion does (the folder root, text_encoder/, unet/, vae_decoder/).
    placement = {name: name for name in recipe.onnx_files}

    for target, produced in placement.items():
        source = exported / produced
        if not source.exists():
            raise SystemExit(f"{recipe.role}: optimum did not write {produced}")
        model = onnx.load(str(source), load_external_data=True)
        big = recipe.kind == "diffusion" and target.startswith("unet/")
        if "fp32" in precisions:
            save_model(model, staged / target, external_data=big)
        if "fp16" in precisions:
            from onnxconverter_common.float16 import convert_float_to_float16

            # keep_io_types: inputs and outputs stay float32, so callers feed both precisions alike.
            half = convert_float_to_float16(model, keep_io_types=True, disable_shape_infer=big)
            save_model(half, staged / precision_name(target, "fp16"), external_data=False)
        if "int8" in precisions and recipe.kind != "diffusion":
            from onnxruntime.quantization import QuantType, quantize_dynamic

            scratch = staged / (target + ".fp32-for-int8.onnx")
            save_model(model, scratch, external_data=False)
            quantize_dynamic(str(scratch), str(staged / precision_name(target, "int8")), weight_type=QuantType.QInt8)
            scratch.unlink()

    for name in recipe.keep:
        source = exported / name
        if source.exists():
            (staged / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, staged / name)
    if recipe.kind == "diffusion" and (staged / "vae_decoder" / "config.json").exists():
        # Curator's layout keeps the repo's vae/config.json (the pipeline's scaling_factor lives there).
        (staged / "vae").mkdir(exist_ok=True)
        shutil.copy2(staged / "vae_decoder" / "config.json", staged / "vae" / "config.json")


def save_tokenizer_files(recipe: Recipe, exported: Path) -> None:
    """optimum saves the tokenizer, but BERTweet's slow tokenizer files (vocab.txt, bpe.codes) need the slow class."""
    from transformers import AutoTokenizer

    if recipe.role == "sentiment":
        tokenizer = AutoTokenizer.from_pretrained(recipe.source, revision=recipe.source_revision, use_fast=False)
        tokenizer.save_pretrained(str(exported))
        for required in ("vocab.txt", "bpe.codes"):
            if not (exported / required).exists():
                raise SystemExit(f"sentiment: the BERTweet tokenizer did not write {required}")
    elif recipe.kind == "seq2seq":
        from transformers import GenerationConfig

        try:
            GenerationConfig.from_pretrained(recipe.source, revision=recipe.source_revision).save_pretrained(str(exported))
        except OSError:
            log(f"{recipe.role}: no generation_config.json upstream; optimum's copy stays")


def checksums_of(folder: Path) -> dict[str, dict[str, object]]:
    files: dict[str, dict[str, object]] = {}
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        relative = path.relative_to(folder).as_posix()
        if relative.startswith(".") or "/." in relative:
            continue  # hf_hub_download's .cache, our own markers
        files[relative] = {"sha256": sha256_of(path), "size": path.stat().st_size}
    return files


def push(out: Path, model_ids: list[str], target: str) -> None:
    import boto3

    if not target.startswith("s3://"):
        raise SystemExit(f"--push {target}: must be s3://bucket/prefix")
    bucket, _, prefix = target[len("s3://") :].partition("/")
    prefix = prefix.strip("/")
    # AWS_ENDPOINT_URL (MinIO, Garage, ...) is read by boto3 itself. The pinned boto3 (< 1.36) does
    # not yet send the default CRC checksums that several S3-compatible stores reject.
    client = boto3.client("s3")
    for model_id in model_ids:
        folder = out / model_id
        for path in sorted(p for p in folder.rglob("*") if p.is_file() and not p.name.startswith(".")):
            key = "/".join(part for part in (prefix, model_id, path.relative_to(folder).as_posix()) if part)
            log(f"push s3://{bucket}/{key}")
            client.upload_file(str(path), bucket, key)
    key = "/".join(part for part in (prefix, "checksums.json") if part)
    client.upload_file(str(out / "checksums.json"), bucket, key)
    log(f"push s3://{bucket}/{key}")


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description="Export Curator's ONNX models")
    parser.add_argument("--out", default="/out", help="output root, laid out like MODELS_DIR")
    parser.add_argument("--only", default=",".join(DEFAULT_ROLES), help="comma-separated roles")
    parser.add_argument("--precisions", default="fp32,fp16", help="fp32,fp16[,int8]")
    parser.add_argument("--push", help="upload the exported folders and checksums.json to s3://bucket/prefix")
    args = parser.parse_args(argv)

    roles = [role.strip() for role in args.only.split(",") if role.strip()]
    precisions = [p.strip() for p in args.precisions.split(",") if p.strip()]
    unknown = [role for role in roles if role not in {r.role for r in RECIPES}]
    if unknown:
        raise SystemExit(f"unknown role(s): {', '.join(unknown)}")
    # Beside Curator's own model folders when /out is MODELS_DIR, never in their place.
    out = Path(args.out).resolve() / "optimum"
    out.mkdir(parents=True, exist_ok=True)
    checksums_path = out / "checksums.json"
    checksums = json.loads(checksums_path.read_text()) if checksums_path.exists() else {}

    done: list[str] = []
    for recipe in (r for r in RECIPES if r.role in roles):
        commit = resolved_commit(recipe.source, recipe.source_revision)
        log(f"{recipe.role}: {recipe.source}@{recipe.source_revision} is commit {commit}")
        with tempfile.TemporaryDirectory(dir=out, prefix=".export-") as scratch:
            work = Path(scratch)
            staged = work / "staged"
            staged.mkdir()
            exported = onnx_export(recipe, work)
            save_tokenizer_files(recipe, exported)
            arrange(recipe, exported, staged, precisions)
            final = out / recipe.model_id
            # Swap the whole folder in at once: a reader never sees half an export.
            if final.exists():
                shutil.rmtree(final)
            final.parent.mkdir(parents=True, exist_ok=True)
            os.replace(staged, final)
        checksums[recipe.model_id] = {
            "revision": commit,
            "exportedFrom": {"repo": recipe.source, "revision": recipe.source_revision, "sha": commit},
            "files": checksums_of(out / recipe.model_id),
        }
        checksums_path.write_text(json.dumps(checksums, indent=2, sort_keys=True) + "\n")
        log(f"{recipe.role}: wrote {out / recipe.model_id} ({len(checksums[recipe.model_id]['files'])} files)")
        done.append(recipe.model_id)

    if args.push:
        push(out, done, args.push)
    log(f"checksums: {checksums_path}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
