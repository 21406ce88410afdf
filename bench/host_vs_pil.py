#!/usr/bin/python3
"""host_vs_pil.py - decode + preprocess images/s, one thread, side by side:
our host stage (build/bench/host_decode: an_image_decode + an_image_preprocess)
and PIL + torchvision (Image.open().convert("RGB"), Resize(256), CenterCrop(224),
ToTensor, Normalize) on the same JPEG photographs, written from skimage's data
at quality 90 (4:2:0) into a temporary folder. Measurement only.

usage: /usr/bin/python3 bench/host_vs_pil.py [BUILD_DIR] [ROUNDS]
"""
import json
import os
import subprocess
import sys
import tempfile
import time

import torch
from PIL import Image
from torchvision import transforms

SK = "/usr/lib/python3/dist-packages/skimage/data"
PHOTOS = ["astronaut.png", "chelsea.png", "coffee.png", "motorcycle_left.png", "rocket.jpg",
          "retina.jpg", "hubble_deep_field.jpg", "horse.png", "grass.png", "brick.png"]


def main():
    build = sys.argv[1] if len(sys.argv) > 1 else "build"
    rounds = int(sys.argv[2]) if len(sys.argv) > 2 else 5
    torch.set_num_threads(1)
    tf = transforms.Compose([transforms.Resize(256), transforms.CenterCrop(224),
                             transforms.ToTensor(),
                             transforms.Normalize([0.485, 0.456, 0.406], [0.229, 0.224, 0.225])])
    with tempfile.TemporaryDirectory() as d:
        files = []
        for p in PHOTOS:
            src = os.path.join(SK, p)
            if not os.path.exists(src):
                continue
            with Image.open(src) as im:
                dst = os.path.join(d, os.path.splitext(p)[0] + ".jpg")
                im.convert("RGB").save(dst, quality=90)
                files.append((dst, im.size))
        print(f"{len(files)} JPEG photographs, {rounds} rounds, one thread:")
        for f, size in files:
            print(f"  {os.path.basename(f):24s} {size[0]}x{size[1]}")
        t0 = time.perf_counter()
        n = 0
        for _ in range(rounds):
            for f, _ in files:
                with Image.open(f) as im:
                    tf(im.convert("RGB"))
                n += 1
        pil = n / (time.perf_counter() - t0)
        env = dict(os.environ, OMP_NUM_THREADS="1")
        out = subprocess.run([os.path.join(build, "bench", "host_decode"), "--rounds",
                              str(rounds)] + [f for f, _ in files],
                             check=True, stdout=subprocess.PIPE, env=env).stdout
        ours = json.loads(out)
        print(f"PIL + torchvision : {pil:8.1f} images/s")
        print(f"alexnet-cl host   : {ours['images_per_s']:8.1f} images/s "
              f"(decode {ours['decode_s']:.3f} s, preprocess {ours['preprocess_s']:.3f} s "
              f"for {ours['images']} images)")
        print(f"ratio             : {ours['images_per_s'] / pil:8.2f}x")


if __name__ == "__main__":
    main()
