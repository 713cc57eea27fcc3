#!/usr/bin/python3
"""The safetensors interop fixture, shared by Python and C.

    /usr/bin/python3 scripts/st_fixture.py write tests/fixtures/st_python.safetensors
    /usr/bin/python3 scripts/st_fixture.py check FILE

`write` makes the fixture from torch tensors (tests/test_safetensors.c reads it
and checks these values). `check` loads a file written by the C writer (the
test writes build/test-tmp/test_safetensors/c_written.safetensors with the
same tensors) and verifies that Python reads back exactly these tensors.
"""
import os
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import safetensors_py  # noqa: E402


def reference():
    """Tensors whose values the C test recomputes exactly."""
    t = {
        "conv1.weight": torch.arange(24, dtype=torch.float32).reshape(2, 3, 2, 2) / 8 - 1,
        "ref.f64": (torch.arange(6, dtype=torch.float64).reshape(2, 3) - 3) / 7,
        "labels": torch.tensor([3, -1, 2**40 + 5], dtype=torch.int64),
        "layer1.0.bn1.num_batches_tracked": torch.tensor(7, dtype=torch.int64),
        "i32": torch.tensor([-2**31, 2**31 - 1], dtype=torch.int32),
        "u8": torch.tensor([0, 255, 128], dtype=torch.uint8),
        "mask": torch.tensor([True, False, True]),
        "half": torch.tensor([1.5, -2.0], dtype=torch.float16),
        "empty": torch.zeros(0, 3, dtype=torch.float32),
    }
    meta = {"epoch": "3", "note": "\u00fcn\u00efc\u00f6d\u00e9 \u2713", "rng": "{\"seed\": 0}"}
    return {k: v.numpy() for k, v in t.items()}, meta


def main():
    if len(sys.argv) != 3 or sys.argv[1] not in ("write", "check"):
        sys.exit(__doc__)
    tensors, meta = reference()
    if sys.argv[1] == "write":
        safetensors_py.save(sys.argv[2], tensors, meta)
        return
    got, got_meta = safetensors_py.load(sys.argv[2])
    assert got_meta == meta, got_meta
    assert list(got) == list(tensors), list(got)
    for name, want in tensors.items():
        g = got[name]
        assert g.dtype == want.dtype and g.shape == want.shape, (name, g.dtype, g.shape)
        assert np.array_equal(g, want), (name, g, want)
    print(f"{sys.argv[2]}: {len(got)} tensors and {len(got_meta)} metadata entries match")


if __name__ == "__main__":
    main()
