"""Writes the fuzzers' seed inputs in tests/fuzz/seeds/ (run from the repository root with a Python
that has h5py and numpy, e.g. build/keras-env/bin/python):
  keras_config/  the model_config of each full-model fixture in tests/fixtures/keras_written/
  training_config/ the training_config of each of them (Keras 3 and tf-keras 2.21)
  npy/           .npy samples and labels, joined by "\n--\n" (fuzz_npy.cpp splits them there)
  idx/           an MNIST IDX image file and label file, joined the same way
  synthetic_spec/ what follows "synthetic:" in --data
  keras_archive/ small .keras zip archives (config.json, metadata.json, an empty model.weights.h5),
                 stored as Keras writes them and deflated
"""
import glob
import io
import os
import struct
import zipfile

import h5py
import numpy as np

OUT = "tests/fuzz/seeds/"


def npy(a):
    b = io.BytesIO()
    np.save(b, a)
    return b.getvalue()


def archive(compression):
    h5 = io.BytesIO()
    with h5py.File(h5, "w") as f:
        f.create_group("layers")
        f.create_group("vars")
    b = io.BytesIO()
    with zipfile.ZipFile(b, "w", compression) as z:  # dated 1980-01-01: the same bytes each run
        for name, data in (("metadata.json", '{"keras_version": "3.15.1"}'),
                           ("config.json", '{"class_name": "Sequential", "config": {"layers": []}}'),
                           ("model.weights.h5", h5.getvalue())):
            z.writestr(zipfile.ZipInfo(name, (1980, 1, 1, 0, 0, 0)), data, compression)
    return b.getvalue()


def main():
    for d in ("keras_config", "training_config", "npy", "idx", "synthetic_spec", "keras_archive"):
        os.makedirs(OUT + d, exist_ok=True)
    for f in sorted(glob.glob("tests/fixtures/keras_written/*.h5")):
        with h5py.File(f) as h:
            c = h.attrs.get("model_config")
            t = h.attrs.get("training_config")
        for folder, text in (("keras_config", c), ("training_config", t)):
            if text is None:
                continue
            if isinstance(text, bytes):
                text = text.decode()
            with open(OUT + folder + "/" + os.path.basename(f).replace(".h5", ".json"), "w") as o:
                o.write(text)
    x = np.random.RandomState(0).rand(3, 2, 2, 1).astype(np.float32)
    sep = b"\n--\n"
    seeds = {
        "npy/pair_f4_i8": npy(x) + sep + npy(np.array([0, 1, 2])),
        "npy/x_u1_only": npy((x * 255).astype(np.uint8)),
        "npy/pair_onehot": npy(x.astype(np.float64)) + sep + npy(np.eye(3, dtype=np.float32)),
        "idx/pair": struct.pack(">IIII", 2051, 2, 3, 3) + bytes(range(18)) + sep
        + struct.pack(">II", 2049, 2) + bytes([3, 7]),
        "synthetic_spec/small": b"8,8,1:10:16",
        "synthetic_spec/rgb": b"4,4,3:2:5",
        "keras_archive/stored": archive(zipfile.ZIP_STORED),
        "keras_archive/deflated": archive(zipfile.ZIP_DEFLATED),
        # compile(metrics=...) as Keras 3 writes it (strings, objects, a dict per output) and as
        # tf.keras 2 does (a list per output of MeanMetricWrapper)
        "training_config/keras3_metrics.json": b'{"loss": "categorical_crossentropy", "metrics": ["acc", "mae", '
        b'{"class_name": "CategoricalAccuracy", "config": {"name": "ca"}}, {"out": "accuracy"}], '
        b'"weighted_metrics": ["accuracy"]}',
        "training_config/tfkeras_metrics.json": b'{"loss": "binary_crossentropy", "metrics": [[{"class_name": '
        b'"MeanMetricWrapper", "config": {"name": "accuracy", "dtype": "float32", "fn": "binary_accuracy"}}]], '
        b'"weighted_metrics": null}',
    }
    for name, data in seeds.items():
        with open(OUT + name, "wb") as o:
            o.write(data)


if __name__ == "__main__":
    main()
