"""Checks that PyTorch and safetensors load what Curator's writers write.

Rewrites every readable fixture with @curator/checkpoints' writeTorchCheckpoint and
writeSafetensors (through Node), then loads each copy with torch.load(weights_only=True) /
safetensors.torch.load_file and compares names, dtypes, shapes and bytes with expected.json.

    pip install torch safetensors      # and Node >= 22.18 on PATH
    python check_curator_writes.py
"""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
import tempfile
from pathlib import Path

import torch
from safetensors.torch import load_file

from make_fixtures import DTYPE_NAMES, raw_bytes

HERE = Path(__file__).resolve().parent
INDEX = HERE.parent.parent / "checkpoints" / "src" / "index.ts"
# Reads each fixture with Curator's reader and writes it back with both of Curator's writers.
WRITE = """
const [index, fixtures, out, ...files] = process.argv.slice(1);
const { openCheckpoint, writeSafetensors, writeTorchCheckpoint } = await import(index);
for (const file of files) {
  const reader = await openCheckpoint(`${fixtures}/${file}`);
  const tensors = reader.tensors().map((t) => ({ ...t, data: async () => (await reader.readRaw(t.name)).bytes }));
  await writeTorchCheckpoint(`${out}/${file}.curator.bin`, tensors);
  await writeSafetensors(`${out}/${file}.curator.safetensors`, tensors);
  await reader.close();
}
"""


def main() -> None:
    expected = json.loads((HERE / "expected.json").read_text())
    files = sorted(expected["files"])
    with tempfile.TemporaryDirectory() as out:
        subprocess.run(["node", "--input-type=module", "-e", WRITE, str(INDEX), str(HERE), out, *files], check=True)
        for file in files:
            want = {t["name"]: t for t in expected["files"][file]}
            for suffix, load in ((".curator.bin", lambda p: torch.load(p, weights_only=True)), (".curator.safetensors", load_file)):
                loaded = load(Path(out) / f"{file}{suffix}")
                assert sorted(loaded) == sorted(want), (file, suffix, sorted(loaded))
                for name, tensor in loaded.items():
                    assert DTYPE_NAMES[tensor.dtype] == want[name]["dtype"], (file, suffix, name)
                    assert list(tensor.shape) == want[name]["shape"], (file, suffix, name)
                    assert hashlib.sha256(raw_bytes(tensor)).hexdigest() == want[name]["raw_sha256"], (file, suffix, name)
                print(f"ok {file}{suffix}: {len(loaded)} tensors, torch {torch.__version__}")


if __name__ == "__main__":
    sys.exit(main())
