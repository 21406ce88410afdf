"""The ONNX model zoo's bvlcalexnet, rebuilt with the `onnx` package (PyPI) at
the opsets the zoo publishes (3, 6, 7, 8, 9 and 12) on seeded weights, and
ONNX Runtime's (PyPI) logits for it: the data of tests/test_onnx_zoo.c.

The zoo's files (validated/vision/classification/alexnet/model/bvlcalexnet-
{3,6,7,8,9,12}.onnx, ~233 MB, Git LFS) cannot be downloaded here, so the graph
is written from what public sources say of them:

- onnx/models, validated/vision/classification/alexnet/README.md: "Caffe BVLC
  AlexNet ==> Caffe2 AlexNet ==> ONNX AlexNet", input data_0 float[1, 3, 224,
  224], output softmaxout_1 float[1, 1000], opsets 3, 6, 7, 8, 9, 12.
- ONNC's backend guide (ONNC/onnc wiki, ONNC-Backend-Porting-Guide), which
  prints the zoo's bvlc_alexnet/model.onnx: initializers conv1_w_0 [96, 3, 11,
  11], conv1_b_0, conv2_w_0 [256, 48, 5, 5], conv3_w_0 [384, 256, 3, 3],
  conv4_w_0 [384, 192, 3, 3], conv5_w_0 [256, 192, 3, 3], fc6_w_0 [4096, 9216],
  fc7_w_0, fc8_w_0 [1000, 4096] (and _b_0 biases), OC2_DUMMY_1 int64[2];
  Conv conv1_1 [1, 96, 54, 54] with kernel_shape [11, 11], strides [4, 4],
  pads [0, 0, 0, 0], group 1, dilations [1, 1]; conv2 group 2, pads 2;
  conv3 pads 1; conv4 and conv5 group 2, pads 1. ONNC's ComputeGraphTest.cpp
  (the same model): Conv, Relu, LRN, MaxPool, Conv, Relu, LRN, MaxPool, Conv,
  Relu, Conv, Relu, Conv, Relu, MaxPool, Reshape(pool5_1, OC2_DUMMY_1) ->
  OC2_DUMMY_0, Gemm, Relu, Gemm, Relu, Gemm, Softmax; value names conv1_1,
  conv1_2, norm1_1, pool1_1, ..., fc6_1, fc6_2, fc6_3, fc8_1. ONNC's layer
  table of the zoo's CaffeNet (same converter): Dropout outputs fc6_3 and
  _fc6_mask_1, pools 54 -> 27, 27 -> 13, 13 -> 6.
- Caffe2's ONNX exporter (pytorch caffe2/onnx/onnx_exporter.cc, "Converting
  legacy padding to explicit padding"): a Caffe pool (CAFFE_LEGACY_POOLING,
  rounding up) becomes a floor-mode MaxPool with pads[end] = output * stride -
  pads[begin] - 1 + kernel - input: at 224, pool1 54 -> 27 gets [0, 0, 2, 2],
  pool2 27 -> 13 and pool5 13 -> 6 get [0, 0, 1, 1] (the same formula gives
  Glow's Caffe2-converted LeNet its MaxPool pads [0, 0, 1, 1]). The FC's
  flatten becomes Reshape to [1, 9216] (batch 1, as the zoo's input).
- BVLC's deploy.prototxt: LRN local_size 5, alpha 0.0001, beta 0.75 (k 1).

What changes with the opset (onnx's Operators.md / Changelog.md): opset 3
(Reshape-1) takes the shape as an attribute; Dropout-1/-6 (opsets 3 and 6) run
as the identity only with is_test = 1; Gemm-1/-6 add a (N) bias to each row
only with broadcast = 1; opset 7 drops both attributes; opset 12's file here is
onnx.version_converter's conversion of the opset 9 one, as the zoo's was made.

Files (in OUTDIR):
  zoo_op{3,6,7,8,9,12}.onnx  the graph, float32 initializers (raw_data)
  zoo_f16.onnx                opset 9 with float16 initializers (data_type
                              10, in int32_data as onnx writes them): no longer
                              a graph ONNX Runtime runs (Conv's T differs), so
                              its reference is zoo_f16_as_f32.onnx, the same
                              graph holding the float16 values as float32
  zoo_bad_*.onnx              tampered copies (tests/test_onnx_zoo.c says which)
  zoo_x.npy                   (2, 3, 224, 224) float32 inputs, ~ BGR minus mean
  zoo_logits_<tag>.npy        ONNX Runtime's fc8_1 (the logits, before the
                              Softmax) for each image, run on a copy of the
                              file that also lists fc8_1 as a graph output
  zoo_prob_<tag>.npy          ONNX Runtime's softmaxout_1, from the file itself
  zoo_ort.txt                 the onnx and onnxruntime versions, the opsets run

ONNX Runtime runs opsets 7 and later (it has no Gemm-6 or Dropout-6 kernels);
opsets 3 and 6 are checked to convert to exactly what opset 7 converts to.

usage: make_zoo_onnx.py OUTDIR   (with a Python that has onnx, onnxruntime, numpy)
"""
import os
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper, version_converter

OPSETS = (3, 6, 7, 8, 9, 12)
CONVS = [  # name, out, in per group, kernel, stride, pad, group
    ("conv1", 96, 3, 11, 4, 0, 1),
    ("conv2", 256, 48, 5, 1, 2, 2),
    ("conv3", 384, 256, 3, 1, 1, 1),
    ("conv4", 384, 192, 3, 1, 1, 2),
    ("conv5", 256, 192, 3, 1, 1, 2),
]
FCS = [("fc6", 4096, 9216), ("fc7", 4096, 4096), ("fc8", 1000, 4096)]
POOL_PADS = {"pool1": [0, 0, 2, 2], "pool2": [0, 0, 1, 1], "pool5": [0, 0, 1, 1]}


def weights(seed=18):
    """Seeded (He-scaled) weights of BVLC's shapes, by the zoo's names."""
    rng = np.random.default_rng(seed)
    w = {}
    for name, oc, ic, k, _, _, _ in CONVS:
        fan = ic * k * k
        w[name + "_w_0"] = (rng.standard_normal((oc, ic, k, k)) * np.sqrt(2.0 / fan)).astype(
            np.float32)
        w[name + "_b_0"] = (rng.standard_normal(oc) * 0.1).astype(np.float32)
    for name, o, i in FCS:
        gain = 0.02 if name == "fc8" else 1.0  # logits of a few units: softmax not one-hot
        w[name + "_w_0"] = (rng.standard_normal((o, i)) * np.sqrt(2.0 / i) * gain).astype(
            np.float32)
        w[name + "_b_0"] = (rng.standard_normal(o) * 0.1).astype(np.float32)
    return w


def graph_nodes(opset, pool_pads=POOL_PADS, lrn_beta=0.75, is_test=1, broadcast=1,
                caffenet=False):
    """The zoo's node list at an opset (Caffe2's value names)."""
    n = []
    a = "data_0"

    def conv(name, k, s, p, g, x):
        n.append(helper.make_node("Conv", [x, name + "_w_0", name + "_b_0"], [name + "_1"],
                                  kernel_shape=[k, k], strides=[s, s], pads=[p] * 4, group=g,
                                  dilations=[1, 1]))
        n.append(helper.make_node("Relu", [name + "_1"], [name + "_2"]))
        return name + "_2"

    def lrn(name, x):
        n.append(helper.make_node("LRN", [x], [name + "_1"], size=5, alpha=0.0001,
                                  beta=lrn_beta, bias=1.0))
        return name + "_1"

    def pool(name, x):
        n.append(helper.make_node("MaxPool", [x], [name + "_1"], kernel_shape=[3, 3],
                                  strides=[2, 2], pads=pool_pads[name]))
        return name + "_1"

    for name, _, _, k, s, p, g in CONVS:
        a = conv(name, k, s, p, g, a)
        i = name[-1]
        if i in "12":
            if caffenet:
                a = lrn("norm" + i, pool("pool" + i, a))
            else:
                a = pool("pool" + i, lrn("norm" + i, a))
        elif i == "5":
            a = pool("pool5", a)
    if opset < 5:
        n.append(helper.make_node("Reshape", [a], ["OC2_DUMMY_0"], shape=[1, 9216]))
    else:
        n.append(helper.make_node("Reshape", [a, "OC2_DUMMY_1"], ["OC2_DUMMY_0"]))
    a = "OC2_DUMMY_0"
    for name, _, _ in FCS:
        kw = {"transB": 1}
        if opset < 7 and broadcast is not None:
            kw["broadcast"] = broadcast
        n.append(helper.make_node("Gemm", [a, name + "_w_0", name + "_b_0"], [name + "_1"], **kw))
        a = name + "_1"
        if name != "fc8":
            n.append(helper.make_node("Relu", [a], [name + "_2"]))
            kw = {"ratio": 0.5}
            if opset < 7 and is_test is not None:
                kw["is_test"] = is_test
            n.append(helper.make_node("Dropout", [name + "_2"], [name + "_3", "_%s_mask_1" % name],
                                      **kw))
            a = name + "_3"
    n.append(helper.make_node("Softmax", [a], ["softmaxout_1"]))
    return n


def model(opset, w, f16=False, **kw):
    inits = []
    for k, v in w.items():
        if f16:
            inits.append(numpy_helper.from_array(v.astype(np.float16), k))
        else:
            inits.append(numpy_helper.from_array(v, k))
    if opset >= 5:
        inits.append(numpy_helper.from_array(np.array([1, 9216], np.int64), "OC2_DUMMY_1"))
    inputs = [helper.make_tensor_value_info("data_0", TensorProto.FLOAT, [1, 3, 224, 224])]
    if opset < 9:  # IR version 3: initializers are listed among the inputs too
        inputs += [helper.make_tensor_value_info(t.name, t.data_type, list(t.dims)) for t in inits]
    g = helper.make_graph(graph_nodes(opset, **kw), "bvlcalexnet", inputs,
                          [helper.make_tensor_value_info("softmaxout_1", TensorProto.FLOAT,
                                                         [1, 1000])], inits)
    ir = {3: 3, 6: 3, 7: 3, 8: 3, 9: 4}.get(opset, 7)
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", opset)], ir_version=ir,
                          producer_name="onnx-caffe2")
    return m


def with_logits(m):
    """The same model listing fc8_1 (the logits) as a second graph output."""
    c = onnx.ModelProto()
    c.CopyFrom(m)
    c.graph.output.append(helper.make_tensor_value_info("fc8_1", TensorProto.FLOAT, [1, 1000]))
    return c


def main():
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    j = lambda name: os.path.join(out, name)  # noqa: E731
    import onnxruntime as ort

    w = weights()
    rng = np.random.default_rng(1818)
    x = (rng.standard_normal((2, 3, 224, 224)) * 50.0).astype(np.float32)
    np.save(j("zoo_x.npy"), x)
    models = {}
    for opset in OPSETS:
        if opset == 12:
            m = version_converter.convert_version(models[9], 12)
        else:
            m = model(opset, w)
        if opset >= 7:
            onnx.checker.check_model(m)
        models[opset] = m
        onnx.save(m, j("zoo_op%d.onnx" % opset))
    f16 = model(9, w, f16=True)
    onnx.save(f16, j("zoo_f16.onnx"))
    w16 = {k: v.astype(np.float16).astype(np.float32) for k, v in w.items()}
    models["f16"] = model(9, w16)
    onnx.save(models["f16"], j("zoo_f16_as_f32.onnx"))

    ran = []
    so = ort.SessionOptions()
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    so.intra_op_num_threads = 2
    for tag, m in models.items():
        if tag in (3, 6):
            continue
        s = ort.InferenceSession(with_logits(m).SerializeToString(), so,
                                 providers=["CPUExecutionProvider"])
        plain = ort.InferenceSession(m.SerializeToString(), so,
                                     providers=["CPUExecutionProvider"])
        logits, probs = [], []
        for i in range(x.shape[0]):
            p, l8 = s.run(["softmaxout_1", "fc8_1"], {"data_0": x[i:i + 1]})
            (p2,) = plain.run(["softmaxout_1"], {"data_0": x[i:i + 1]})
            assert np.array_equal(p, p2), "the extra output changed ONNX Runtime's softmax"
            logits.append(l8[0])
            probs.append(p2[0])
        name = "op%d" % tag if isinstance(tag, int) else tag
        np.save(j("zoo_logits_%s.npy" % name), np.stack(logits).astype(np.float32))
        np.save(j("zoo_prob_%s.npy" % name), np.stack(probs).astype(np.float32))
        ran.append(name)

    # tampered: each refused, naming the node and the attribute, before any
    # shape is checked, so one-element initializers keep them small
    t = {k: np.zeros((1,) * v.ndim, np.float32) for k, v in w.items()}
    bad = {
        "pads": model(9, t, pool_pads=dict(POOL_PADS, pool1=[0, 0, 0, 0])),  # floor: 26
        "beta": model(9, t, lrn_beta=0.5),
        "is_test": model(6, t, is_test=0),
        "broadcast": model(6, t, broadcast=None),
        "caffenet": model(9, t, caffenet=True),
    }
    for k, m in bad.items():
        onnx.save(m, j("zoo_bad_%s.onnx" % k))
    with open(j("zoo_ort.txt"), "w") as f:
        f.write("onnx %s onnxruntime %s numpy %s; ONNX Runtime ran %s\n" %
                (onnx.__version__, ort.__version__, np.__version__, " ".join(ran)))


if __name__ == "__main__":
    main()
