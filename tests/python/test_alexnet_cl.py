"""test_alexnet_cl.py - the Python package alexnet_cl (python/alexnet_cl) on the
shared library of the build tree, run by `meson test --suite python`.

forward() is checked against torchvision's AlexNet in float64 on the seeded
weights of tests/reference/make_reference.py (the conformance data: the
torchvision-224 .safetensors, inputs and logits), at the native 224x224 and
at a small 67x67 input; classify() against `alexnet classify --json` on the
same weights; error cases raise alexnet_cl.Error with the library's status
name and text, or TypeError/ValueError for arrays the API does not take.

Environment (tests/python/meson.build sets it): ALEXNET_CL_LIBRARY (the
built libalexnet), PYTHONPATH (python/), AN_REF_DIR (conformance data),
AN_SOURCE_ROOT, AN_BUILD_ROOT, ALEXNET_DEVICE=cpu.

Each distinct (batch, height, width) builds its programs once (about 10 s on
a cold cache with PoCL on 2 cores), so the tests share two shapes: (1, 224,
224) and (2, 67, 67).
"""
import json
import os
import pickle
import subprocess
import threading
import time

import numpy as np
import pytest

import alexnet_cl

REF = os.environ["AN_REF_DIR"]
SRC = os.environ["AN_SOURCE_ROOT"]
BUILD = os.environ["AN_BUILD_ROOT"]
WEIGHTS = os.path.join(REF, "torchvision-224.safetensors")
SAMPLES = [os.path.join(SRC, "data", "samples", n) for n in ("coffee.png", "chelsea.png")]
TINY_PNG = os.path.join(SRC, "tests", "fuzz", "corpus", "png", "rgb8_5x3.png")
BAD_PNG = os.path.join(SRC, "tests", "fuzz", "corpus", "png", "truncated.png")


@pytest.fixture(scope="module")
def model():
    with alexnet_cl.Model("torchvision-224", weights=WEIGHTS) as m:
        yield m


def read_safetensors(path):
    """name -> float32 array, for the F32 files make_reference.py writes."""
    with open(path, "rb") as f:
        n = int.from_bytes(f.read(8), "little")
        header = json.loads(f.read(n))
        data = f.read()
    out = {}
    for name, t in header.items():
        if name == "__metadata__":
            continue
        assert t["dtype"] == "F32"
        a, b = t["data_offsets"]
        out[name] = np.frombuffer(data[a:b], np.float32).reshape(t["shape"])
    return out


def assert_close(out, ref):
    """The bound of tests/test_conformance.c: relative L2 error < 1e-5 and every
    logit within 1e-4 * |ref| + 1e-5 * max|ref|."""
    assert out.dtype == np.float32 and out.shape == ref.shape
    assert np.isfinite(out).all()
    ref = ref.astype(np.float64)
    diff = out.astype(np.float64) - ref
    peak = np.abs(ref).max()
    worst = np.abs(diff) - (1e-4 * np.abs(ref) + 1e-5 * peak)
    assert worst.max() <= 0, f"logit {worst.argmax()} off by {np.abs(diff).flat[worst.argmax()]}"
    rel = np.linalg.norm(diff) / np.linalg.norm(ref)
    assert rel < 1e-5, f"relative L2 error {rel}"


# --------------------------------------------------------------------------
# forward


def test_forward_matches_reference_at_224(model):
    x = np.load(os.path.join(REF, "x_torchvision-224.npy"))[:1]
    ref = np.load(os.path.join(REF, "ref_torchvision-224.npy"))[:1]
    out = model.forward(np.ascontiguousarray(x))
    assert out.shape == (1, alexnet_cl.CLASSES)
    assert_close(out, ref)


def test_forward_matches_torchvision_at_67x67(model):
    import torch
    import torchvision

    net = torchvision.models.alexnet()
    net.load_state_dict({k: torch.from_numpy(v.copy()) for k, v in read_safetensors(WEIGHTS).items()})
    net = net.double().eval()
    # 67x67: conv1 (67+4-11)/4+1 = 16, then pools 7, 3, 1: every division floored
    x = np.random.default_rng(7).standard_normal((2, 3, 67, 67), dtype=np.float32)
    with torch.no_grad():
        ref = net(torch.from_numpy(x).double()).numpy()
    assert_close(model.forward(x), ref)
    # probabilities: softmax of the same logits
    probs = model.forward(x, probs=True)
    e = np.exp(ref - ref.max(axis=1, keepdims=True))
    np.testing.assert_allclose(probs, e / e.sum(axis=1, keepdims=True), rtol=1e-4, atol=1e-7)


def test_forward_releases_the_gil(model):
    """While forward runs on one thread, another Python thread makes progress
    inside the foreign call: with the GIL held it could not run at all then."""
    x = np.ascontiguousarray(np.load(os.path.join(REF, "x_torchvision-224.npy"))[:1])
    model.forward(x)  # the plan for this shape exists before timing
    calls, done = [], threading.Event()

    def work():
        for _ in range(4):
            t0 = time.monotonic()
            model.forward(x)
            calls.append((t0, time.monotonic()))
        done.set()

    worker = threading.Thread(target=work)
    ticks = []
    worker.start()
    while not done.is_set():
        ticks.append(time.monotonic())
        time.sleep(0.001)
    worker.join()
    ticks = np.array(ticks)
    inside = [int(((ticks > a) & (ticks < b)).sum()) for a, b in calls]
    # each call takes ~0.1 s: dozens of 1 ms ticks when the GIL is free, ~0 when held
    assert sum(n >= 3 for n in inside) >= 3, f"ticks inside each forward call: {inside}"


def test_forward_rejects_bad_arrays(model):
    good = np.zeros((1, 3, 67, 67), np.float32)
    with pytest.raises(TypeError, match="ndarray"):
        model.forward(good.tolist())
    with pytest.raises(TypeError, match="float32"):
        model.forward(good.astype(np.float64))
    with pytest.raises(TypeError, match="C-contiguous"):
        model.forward(np.zeros((1, 3, 67, 134), np.float32)[:, :, :, ::2])
    with pytest.raises(ValueError, match="shape"):
        model.forward(good[0])
    with pytest.raises(ValueError, match="empty"):
        model.forward(good[:0])
    with pytest.raises(alexnet_cl.Error) as e:
        model.forward(np.zeros((1, 4, 67, 67), np.float32))
    assert e.value.name == "AN_ERR_BAD_SHAPE" and "not 4" in e.value.message
    with pytest.raises(alexnet_cl.Error) as e:
        model.forward(np.zeros((1, 3, 20, 20), np.float32))
    assert e.value.name == "AN_ERR_BAD_SHAPE" and "too small" in e.value.message
    assert e.value.status == -4006 and str(e.value).startswith("AN_ERR_BAD_SHAPE: ")


# --------------------------------------------------------------------------
# classify


def test_classify_matches_the_cli(model):
    paths = SAMPLES + [TINY_PNG, BAD_PNG, os.path.join(SRC, "no-such-file.png")]
    got = model.classify(paths, top=3, batch=1)
    cli = subprocess.run([os.path.join(BUILD, "apps", "alexnet"), "classify", "--json", "--batch", "1",
                          "--top", "3", "--weights", WEIGHTS] + paths,
                         capture_output=True, text=True, timeout=300)
    assert cli.returncode == 1, cli.stderr  # some inputs failed
    want = [json.loads(line) for line in cli.stdout.splitlines()]
    assert [r["path"] for r in got] == paths
    assert len(want) == len(got)
    for g, w in zip(got, want):
        assert g.keys() == w.keys(), (g, w)
        if "error" in w:
            assert g["error"] == w["error"]
            continue
        assert len(g["top"]) == 3
        for a, b in zip(g["top"], w["top"]):
            assert (a["label"], a["index"]) == (b["label"], b["index"])
            # the CLI prints the float with 9 digits: equal once both are float32
            assert np.float32(a["probability"]) == np.float32(b["probability"])
    assert "cannot open" in got[-1]["error"] and "no-such-file.png" in got[-1]["error"]
    assert "not a valid PNG" in got[-2]["error"]


def test_classify_one_path_and_labels(model):
    (r,) = model.classify(SAMPLES[0], top=5, batch=1)
    probs = [t["probability"] for t in r["top"]]
    assert len(probs) == 5 and probs == sorted(probs, reverse=True) and 0 < sum(probs) <= 1
    assert all(t["label"] == alexnet_cl.class_label(t["index"]) for t in r["top"])
    assert model.classify([]) == []


# --------------------------------------------------------------------------
# devices, variants, errors, lifetime


def test_devices_and_model_info(model):
    devs = alexnet_cl.devices()
    assert devs and all(d["name"] and d["compute_units"] > 0 and d["global_mem"] > 0 for d in devs)
    assert model.device["type"] == "cpu"  # ALEXNET_DEVICE=cpu
    assert model.device["name"] in [d["name"] for d in devs]
    assert model.variant == "torchvision-224"
    assert "conv_" in model.tuning
    assert alexnet_cl.variants()[:2] == ["torchvision-224", "caffe-227"]
    assert alexnet_cl.class_label(281) == "tabby"
    with pytest.raises(IndexError):
        alexnet_cl.class_label(1000)


def test_load_errors():
    with pytest.raises(alexnet_cl.Error) as e:
        alexnet_cl.Model("vgg16")
    assert e.value.name == "AN_ERR_UNKNOWN_VARIANT" and "vgg16" in e.value.message
    again = pickle.loads(pickle.dumps(e.value))  # as multiprocessing passes it on
    assert (again.status, again.name, str(again)) == (e.value.status, e.value.name, str(e.value))
    missing = os.path.join(REF, "missing.safetensors")
    with pytest.raises(alexnet_cl.Error) as e:
        alexnet_cl.Model("torchvision-224", weights=missing)
    assert e.value.name == "AN_ERR_IO" and "missing.safetensors" in e.value.message
    with pytest.raises(alexnet_cl.Error) as e:  # caffe-227's tensors are not torchvision's
        alexnet_cl.Model("torchvision-224", weights=os.path.join(REF, "caffe-227.safetensors"))
    assert e.value.name == "AN_ERR_BAD_WEIGHTS" and e.value.message
    with pytest.raises(alexnet_cl.Error) as e:
        alexnet_cl.Model("torchvision-224", device="no such device")
    assert e.value.name == "AN_ERR_DEVICE_NOT_FOUND" and "no such device" in e.value.message


def test_close_and_context_manager():
    with alexnet_cl.Model("torchvision-224", seed=3) as m:
        assert m.variant == "torchvision-224"
    m.close()  # twice is fine
    with pytest.raises(ValueError, match="closed"):
        m.forward(np.zeros((1, 3, 67, 67), np.float32))
    assert "closed" in repr(m)
