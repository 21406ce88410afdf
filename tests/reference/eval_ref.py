#!/usr/bin/python3
"""eval_ref.py - a tiny labelled set and its expected accuracy for tests/test_eval.c.

Usage: /usr/bin/python3 eval_ref.py OUTDIR

Writes into OUTDIR:
  * folder/{apple,banana,cherry}/...: an ImageFolder of 9 small photographs-like
    images (JPEG and PNG, one in a subfolder) and one broken JPEG, classes 0, 1, 2
    by sorted folder name;
  * weights.safetensors: torchvision's AlexNet with seeded weights (as
    make_reference.py seeds them) whose classifier.6 bias is raised for
    classes 0..2 by BOOST, chosen so that some images hit and some miss;
  * val.txt: `PATH LABEL` lines for the same images (relative to OUTDIR), the
    labels picked from PyTorch's own ranking (rank 0, 2 or 8 of each image) so
    that top-1 and top-5 both count some hits and some misses;
  * expected.json: {"folder": {...}, "list": {...}} with images, failed, top1 and
    top5 computed by PyTorch in float64 on PIL + torchvision's preprocessing.
Every decision (top-1, top-5) is checked to be clear of ties by a margin far
above float32 rounding, so the runtime must give exactly these counts.

Exit status 77 when a Python module is missing (the C test then skips).
"""
import json
import os
import sys

try:
    import numpy as np
    import torch
    import torchvision
    from PIL import Image
    from torchvision import transforms
except ImportError as e:  # pragma: no cover
    print(f"eval_ref.py: {e}", file=sys.stderr)
    sys.exit(77)

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import make_reference as mr  # noqa: E402  (seed_weights, save_safetensors)
import preprocess_ref as pr  # noqa: E402  (field, quantise)

TF = transforms.Compose([transforms.Resize(256), transforms.CenterCrop(224), transforms.ToTensor(),
                         transforms.Normalize([0.485, 0.456, 0.406], [0.229, 0.224, 0.225])])
MARGIN = 1e-2  # logits are O(1..10); float32 vs float64 differ by ~1e-5


def clear(logits, label):
    """True when label's top-1 and top-5 membership are both clear of ties."""
    order = np.argsort(-logits, kind="stable")
    s = logits[order]
    v = logits[label]
    r = int(np.where(order == label)[0][0])
    ok1 = (v - s[1] > MARGIN) if r == 0 else (s[0] - v > MARGIN)
    ok5 = (v - s[5] > MARGIN) if r < 5 else (s[4] - v > MARGIN)
    return ok1 and ok5, r


def main():
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    rng = np.random.default_rng(15)
    torch.manual_seed(0)
    images = []  # (relative path, class index)
    for c, cls in enumerate(["apple", "banana", "cherry"]):
        os.makedirs(os.path.join(out, "folder", cls, "more"), exist_ok=True)
        for k in range(3):
            w, h = [(97, 71), (64, 80), (120, 90)][k]
            a = pr.quantise(pr.field(rng, h, w, 3), 8).astype(np.uint8)
            ext = "png" if k == 1 else "jpg"
            sub = "more/" if k == 2 else ""
            rel = f"folder/{cls}/{sub}img{k}.{ext}"
            Image.fromarray(a, "RGB").save(os.path.join(out, rel), quality=90)
            images.append((rel, c))
    broken = "folder/banana/broken.jpg"
    with open(os.path.join(out, broken), "wb") as f:
        f.write(b"\xff\xd8\xff\xe0 not really a JPEG")

    x = torch.stack([TF(Image.open(os.path.join(out, p)).convert("RGB")) for p, _ in images])
    model = torchvision.models.alexnet()
    mr.seed_weights(model, 5)
    base_bias = model.classifier[6].bias.detach().clone()
    with torch.no_grad():  # float64 up to fc7, once; the boost moves fc8's bias only
        m = model.double().eval()
        h = m.classifier[:-1](torch.flatten(m.avgpool(m.features(x.double())), 1))
        fc8 = m.classifier[6]
        plain = (h @ fc8.weight.T + fc8.bias).numpy()
        model.float()
    chosen = None
    for boost in np.arange(0.0, 40.0, 0.5):
        logits = plain.copy()
        logits[:, :3] += float(boost)
        ranks, ok = [], True
        for i, (_, c) in enumerate(images):
            good, r = clear(logits[i], c)
            ok &= good
            ranks.append(r)
        top1 = sum(r == 0 for r in ranks)
        top5 = sum(r < 5 for r in ranks)
        if ok and 0 < top1 < top5 < len(images):
            chosen = (boost, logits, ranks)
            break
    if chosen is None:
        sys.exit("eval_ref.py: no boost gives a mixed, tie-free result; change the seed")
    boost, logits, ranks = chosen
    with torch.no_grad():
        model.classifier[6].bias.copy_(base_bias)
        model.classifier[6].bias[:3] += float(boost)
    tensors = [(k, v.numpy().astype(np.float32)) for k, v in model.state_dict().items()]
    mr.save_safetensors(os.path.join(out, "weights.safetensors"), tensors, "F32")

    n = len(images) + 1  # with the broken file
    expect = {"folder": {"images": n, "failed": 1, "classes": 3,
                         "top1": sum(r == 0 for r in ranks), "top5": sum(r < 5 for r in ranks)}}
    # val.txt: labels at PyTorch's rank 0, 2 or 8, each clear of ties
    lines, t1, t5 = [], 0, 0
    for i, (rel, _) in enumerate(images):
        order = np.argsort(-logits[i], kind="stable")
        for want in ([0, 1, 3], [2, 3, 1], [8, 9, 7])[i % 3]:
            label = int(order[want])
            good, r = clear(logits[i], label)
            if good:
                break
        if not good:
            sys.exit(f"eval_ref.py: no tie-free label for {rel}")
        t1 += r == 0
        t5 += r < 5
        lines.append(f"{rel} {label}")
    lines.insert(4, f"{broken} 0")
    with open(os.path.join(out, "val.txt"), "w") as f:
        f.write("\n".join(lines) + "\n")
    expect["list"] = {"images": n, "failed": 1, "top1": t1, "top5": t5,
                      "classes": 1 + max(int(l.split()[-1]) for l in lines)}
    expect["boost"] = float(boost)
    with open(os.path.join(out, "expected.json"), "w") as f:
        json.dump(expect, f)
    print(f"eval_ref.py: {json.dumps(expect)}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    torch.set_num_threads(1)
    sys.exit(main())
