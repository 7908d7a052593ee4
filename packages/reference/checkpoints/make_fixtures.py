"""Writes the checkpoint fixtures that @curator/checkpoints is tested against.

Every file here is written by PyTorch, safetensors or huggingface_hub themselves (or, for the
hostile files, by Python's own pickle/zipfile), so Curator's readers are tested on what those
libraries write, not on what Curator writes. Runnable anywhere:

    pip install torch safetensors huggingface_hub
    python make_fixtures.py            # rewrites the files next to this script

expected.json records, for every readable file, each tensor's name, dtype, shape, values (as
float32 for float dtypes, integers otherwise) and sha256 digests of the contiguous bytes.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import pickle
import shutil
import struct
import sys
import zipfile
from collections import OrderedDict
from pathlib import Path

import torch
from huggingface_hub import save_torch_state_dict
from safetensors.torch import save_file

HERE = Path(__file__).resolve().parent
DTYPE_NAMES = {
    torch.float64: "F64",
    torch.float32: "F32",
    torch.float16: "F16",
    torch.bfloat16: "BF16",
    torch.int64: "I64",
    torch.int32: "I32",
    torch.int16: "I16",
    torch.int8: "I8",
    torch.uint8: "U8",
    torch.bool: "BOOL",
}


def dtypes_state_dict() -> dict[str, torch.Tensor]:
    """One small tensor per dtype Curator reads, values chosen to be exact in every dtype."""
    g = torch.Generator().manual_seed(13)
    return {
        "f32.matrix": torch.randn(3, 4, generator=g),
        "f32.scalar": torch.tensor(2.5),
        "f16.vector": torch.randn(5, generator=g).to(torch.float16),
        "f16.specials": torch.tensor([0.0, -0.0, 65504.0, 6.0e-8, float("inf"), -float("inf")], dtype=torch.float16),
        "bf16.matrix": torch.randn(2, 3, generator=g).to(torch.bfloat16),
        "f64.values": torch.tensor([1.0 / 3.0, -2.75, 1e-40], dtype=torch.float64),
        "i64.ids": torch.tensor([0, 1, -1, 2**40, -(2**40), 7], dtype=torch.int64),
        "i32.ids": torch.tensor([[1, -2], [3, 2**30]], dtype=torch.int32),
        "i16.ids": torch.tensor([-300, 300], dtype=torch.int16),
        "i8.ids": torch.tensor([-128, 127, 0], dtype=torch.int8),
        "u8.ids": torch.tensor([0, 255, 16], dtype=torch.uint8),
        "bool.mask": torch.tensor([[True, False], [False, True]]),
        "empty.rows": torch.zeros(0, 4),
    }


def views_state_dict() -> dict[str, torch.Tensor]:
    """Tensors that share storages, as tied weights and views do (safetensors cannot hold these)."""
    g = torch.Generator().manual_seed(7)
    base = torch.randn(4, 6, generator=g)
    flat = torch.arange(24, dtype=torch.float32) / 8
    shared = torch.randn(5, 3, generator=g)
    return {
        "base": base,
        "transposed": base.t(),  # non-contiguous: strides (1, 6)
        "columns": base[:, 2:5],  # offset 2, strides (6, 1)
        "every_other_row": base[::2],  # strides (12, 1)
        "tied_first": flat[0:12].view(3, 4),  # one storage, offset 0
        "tied_second": flat[8:20].view(4, 3),  # same storage, offset 8, overlapping the first
        "embedding.weight": shared,  # the same tensor twice, as T5's shared / lm_head
        "lm_head.weight": shared,
        "half_transposed": torch.randn(3, 2, generator=g).to(torch.float16).t(),
        "expanded": torch.randn(3, 1, generator=g).expand(3, 4),  # stride 0 on the last dim
    }


class TinyModule(torch.nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.embed = torch.nn.Embedding(7, 4)
        self.proj = torch.nn.Linear(4, 3)
        self.norm = torch.nn.LayerNorm(3)
        self.bn = torch.nn.BatchNorm1d(3)  # buffers: running stats and an int64 scalar counter


def module_state_dict() -> "OrderedDict[str, torch.Tensor]":
    torch.manual_seed(3)
    module = TinyModule()
    module.bn.num_batches_tracked.fill_(5)
    return module.state_dict()  # an OrderedDict carrying _metadata, as transformers' checkpoints do


def parameters_dict() -> dict[str, torch.Tensor]:
    """nn.Parameter objects saved directly (pickled through torch._utils._rebuild_parameter)."""
    torch.manual_seed(5)
    linear = torch.nn.Linear(3, 2)
    return dict(linear.named_parameters())


def sharded_state_dict() -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(11)
    return {f"layers.{i}.weight": torch.randn(16, 16, generator=g) for i in range(4)} | {"head.bias": torch.randn(16, generator=g)}


def float32_bytes(tensor: torch.Tensor) -> bytes:
    return tensor.detach().to(torch.float32).contiguous().numpy().astype("<f4").tobytes()


def raw_bytes(tensor: torch.Tensor) -> bytes:
    t = tensor.detach().contiguous()
    if t.dtype == torch.bfloat16:
        t = t.view(torch.int16)
    return t.numpy().tobytes()


def describe(state_dict: dict[str, torch.Tensor]) -> list[dict]:
    described = []
    for name, tensor in state_dict.items():
        tensor = tensor.detach()
        dtype = DTYPE_NAMES[tensor.dtype]
        entry = {"name": name, "dtype": dtype, "shape": list(tensor.shape), "raw_sha256": hashlib.sha256(raw_bytes(tensor)).hexdigest()}
        if tensor.is_floating_point():
            values = tensor.to(torch.float32).flatten().tolist()
            entry["float32"] = [v if v == v and abs(v) != float("inf") else str(v) for v in values]
            entry["float32_sha256"] = hashlib.sha256(float32_bytes(tensor)).hexdigest()
        else:
            entry["values"] = [int(v) for v in tensor.flatten().tolist()]
        described.append(entry)
    return described


def save_all_forms(stem: str, state_dict: dict[str, torch.Tensor], expected: dict, safetensors: bool = True) -> None:
    torch.save(state_dict, HERE / f"{stem}.zip.bin")
    torch.save(state_dict, HERE / f"{stem}.legacy.bin", _use_new_zipfile_serialization=False)
    files = [f"{stem}.zip.bin", f"{stem}.legacy.bin"]
    if safetensors:
        save_file({k: v.contiguous() for k, v in state_dict.items()}, HERE / f"{stem}.safetensors", metadata={"format": "pt", "made_by": "make_fixtures.py"})
        files.append(f"{stem}.safetensors")
    tensors = describe(state_dict)
    for file in files:
        expected["files"][file] = tensors


def save_deflated(expected: dict) -> None:
    """torch writes STORED records; a zip tool may recompress them. Same tensors, every record DEFLATEd."""
    rewrite_zip(HERE / "dtypes.zip.bin", HERE / "dtypes.deflated.zip.bin", lambda name, data: None, zipfile.ZIP_DEFLATED)
    expected["files"]["dtypes.deflated.zip.bin"] = expected["files"]["dtypes.zip.bin"]


def save_without_crc(expected: dict) -> None:
    """torch.serialization.set_crc32_options(False) writes every CRC-32 as 0 (and torch.load never checks them)."""
    torch.serialization.set_crc32_options(False)
    try:
        torch.save(dtypes_state_dict(), HERE / "dtypes.nocrc.zip.bin")
    finally:
        torch.serialization.set_crc32_options(True)
    expected["files"]["dtypes.nocrc.zip.bin"] = describe(dtypes_state_dict())


def save_sharded(expected: dict) -> None:
    state_dict = sharded_state_dict()
    tensors = describe(state_dict)
    for folder, safe in (("sharded-safetensors", True), ("sharded-bin", False)):
        shutil.rmtree(HERE / folder, ignore_errors=True)
        (HERE / folder).mkdir()
        save_torch_state_dict(state_dict, HERE / folder, max_shard_size="2KB", safe_serialization=safe)
        expected["folders"][folder] = tensors


# --- hostile files: written here, never loaded by anything ---------------------------------------


class RunsShell:
    """Pickles as a call of os.system (posix.system on Linux): what a malicious checkpoint carries."""

    def __reduce__(self):
        return (os.system, ("echo this checkpoint ran code",))


class RunsEval:
    def __reduce__(self):
        return (eval, ("__import__('os').getcwd()",))


def rewrite_zip(source: Path, target: Path, change, compression: int = zipfile.ZIP_STORED) -> None:
    """Copies a torch zip entry by entry; `change(name, data)` returns the new data (or None to keep it)."""
    with zipfile.ZipFile(source) as zin, zipfile.ZipFile(target, "w", compression) as zout:
        for item in zin.infolist():
            data = zin.read(item.filename)
            changed = change(item.filename, data)
            zout.writestr(item.filename, data if changed is None else changed)


def write_hostile(expected: dict) -> None:
    hostile = HERE / "hostile"
    shutil.rmtree(hostile, ignore_errors=True)
    hostile.mkdir()
    problems = {}

    torch.save({"weight": torch.ones(2), "payload": RunsShell()}, hostile / "posix-system.zip.bin")
    problems["posix-system.zip.bin"] = "posix.system is not allowed"
    torch.save({"weight": torch.ones(2), "payload": RunsShell()}, hostile / "posix-system.legacy.bin", _use_new_zipfile_serialization=False)
    problems["posix-system.legacy.bin"] = "posix.system is not allowed"
    torch.save({"payload": RunsEval()}, hostile / "builtins-eval.zip.bin")
    problems["builtins-eval.zip.bin"] = "__builtin__.eval is not allowed"  # protocol 2 names builtins __builtin__

    whole = (HERE / "dtypes.zip.bin").read_bytes()
    (hostile / "truncated.zip.bin").write_bytes(whole[: len(whole) // 2])
    problems["truncated.zip.bin"] = "zip"

    # The first storage record cut to 3 bytes: f32.matrix needs 48.
    rewrite_zip(HERE / "dtypes.zip.bin", hostile / "short-storage.zip.bin", lambda name, data: data[:3] if name.endswith("/data/0") else None)
    problems["short-storage.zip.bin"] = "storage"

    rewrite_zip(HERE / "dtypes.zip.bin", hostile / "big-endian.zip.bin", lambda name, data: b"big" if name.endswith("/byteorder") else None)
    problems["big-endian.zip.bin"] = "big-endian"

    # A BINUNICODE whose 4-byte length claims ~4 GB inside a tiny pickle.
    huge_string = b"\x80\x02X\xf0\xff\xff\xffabc."
    rewrite_zip(HERE / "dtypes.zip.bin", hostile / "huge-pickle-length.zip.bin", lambda name, data: huge_string if name.endswith("/data.pkl") else None)
    problems["huge-pickle-length.zip.bin"] = "length"

    header = json.dumps({"x": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]}}).encode()
    (hostile / "huge-header.safetensors").write_bytes(struct.pack("<Q", 2**50) + header + b"\0" * 4)
    problems["huge-header.safetensors"] = "header"
    (hostile / "header-past-end.safetensors").write_bytes(struct.pack("<Q", 10_000) + header + b"\0" * 4)
    problems["header-past-end.safetensors"] = "header"
    short = json.dumps({"x": {"dtype": "F32", "shape": [4], "data_offsets": [0, 8]}}).encode()
    (hostile / "offsets-short.safetensors").write_bytes(struct.pack("<Q", len(short)) + short + b"\0" * 8)
    problems["offsets-short.safetensors"] = "needs 16 bytes"

    expected["hostile"] = problems


def check_loadable() -> None:
    """Every readable fixture loads back in PyTorch with weights_only=True (the safe loader)."""
    for path in sorted(HERE.glob("*.bin")):
        torch.load(path, weights_only=True)


def main() -> None:
    for stale in list(HERE.glob("*.bin")) + list(HERE.glob("*.safetensors")):
        stale.unlink()
    expected = {"torch": torch.__version__, "files": {}, "folders": {}}
    save_all_forms("dtypes", dtypes_state_dict(), expected)
    save_all_forms("views", views_state_dict(), expected, safetensors=False)
    save_all_forms("module", module_state_dict(), expected)
    save_all_forms("parameters", parameters_dict(), expected, safetensors=False)
    save_deflated(expected)
    save_without_crc(expected)
    save_sharded(expected)
    write_hostile(expected)
    check_loadable()
    (HERE / "expected.json").write_text(json.dumps(expected, indent=1) + "\n")
    total = sum(p.stat().st_size for p in HERE.rglob("*") if p.is_file())
    print(f"wrote fixtures to {HERE} ({total} bytes)", file=sys.stderr)


if __name__ == "__main__":
    main()
