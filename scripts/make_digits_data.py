#!/usr/bin/env python3
"""Writes core/data/digits.bin: the UCI optical handwritten digits as scikit-learn ships them.

Layout: 1797 records of 65 bytes each: 64 pixel values (0..16, row-major 8x8) then the label (0..9).
Data: Alpaydin & Kaynak, UCI ML repository, CC BY 4.0. Needs `pip install scikit-learn`.

The records are stored in a fixed permutation of scikit-learn's order (numpy's default_rng(0)):
scikit-learn's order groups the writers, so Keras's validation_split (the *last* 20%) would hold
out unseen writers rather than a random sample; permuted, it is an ordinary random held-out set.
"""
import os
import numpy as np
from sklearn.datasets import load_digits

d = load_digits()
x = d.data.astype(np.uint8)
y = d.target.astype(np.uint8)
assert x.shape == (1797, 64) and x.max() == 16 and y.max() == 9
rec = np.concatenate([x, y[:, None]], axis=1)
rec = rec[np.random.default_rng(0).permutation(len(rec))]
out = os.path.join(os.path.dirname(__file__), "..", "core", "data", "digits.bin")
rec.tofile(out)
print("wrote", out, rec.nbytes, "bytes")
