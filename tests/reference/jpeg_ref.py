#!/usr/bin/python3
"""jpeg_ref.py - reference JPEGs, pixels and tensors for tests/test_image.c.

Usage: /usr/bin/python3 jpeg_ref.py OUTDIR

Writes into OUTDIR, in preprocess_ref.py's manifest format (NAME VARIANT C H W
REFERENCE; VARIANT "decode", a variant name, or "bad"):
  * JPEGs of every kind a user meets, written by PIL (Debian's, linked with the
    same libjpeg62-turbo as the runtime): baseline at 4:4:4, 4:2:2 and 4:2:0,
    progressive, optimised Huffman tables, grayscale (baseline and progressive),
    CMYK as PIL writes it (inverted, with an Adobe APP14 marker) and the same
    without its Adobe marker, an EXIF orientation tag (which PIL's convert does
    not apply), an ICC profile (ignored), odd and tiny sizes, corrupt entropy-coded
    data that libjpeg only warns about (PIL decodes it, so the pixels must match),
    a real photograph (skimage's chelsea) baseline and progressive;
  * when libjpeg-turbo-progs is installed (cjpeg, jpegtran): restart markers
    (every MCU row and every 2 blocks, baseline and progressive), an RGB-colour-
    space JPEG with Adobe transform 0, arithmetic coding, 4:4:0 and 4:1:1; skipped
    otherwise, with a note on stderr. YCCK files are not made (no tool here
    writes them);
  * for every image the RGB8 pixels of `Image.open(p).convert("RGB")` (.rgb) and
    the torchvision-224 and caffe-227 tensors of those pixels (.f32), as in
    preprocess_ref.py;
  * bad files: empty, SOI only, truncated in the header, in the entropy-coded
    data, before EOI (PIL: "image file is truncated"), a truncated progressive
    file, garbage after SOI, and a frame header of 20000x20000 (over the pixel
    limit). PIL is asked first: each must fail in PIL too.

Exit status 77 when a Python module is missing (the C test then skips).
"""
import io
import os
import shutil
import subprocess
import sys
import warnings

try:
    import numpy as np
    import torch
    from PIL import Image, ImageCms
except ImportError as e:  # pragma: no cover
    print(f"jpeg_ref.py: {e}", file=sys.stderr)
    sys.exit(77)

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import preprocess_ref as ref  # noqa: E402  (the same variants, Writer and content)

MAIN_VARIANTS = ["torchvision-224", "caffe-227"]


def encode(img, **kw):
    b = io.BytesIO()
    img.save(b, "JPEG", **kw)
    return b.getvalue()


def strip_app14(data):
    """data without its Adobe APP14 segment(s)."""
    out, i = bytearray(data[:2]), 2
    while i + 4 <= len(data) and data[i] == 0xFF and data[i + 1] != 0xDA:
        n = (data[i + 2] << 8) | data[i + 3]
        seg = data[i:i + 2 + n]
        if not (data[i + 1] == 0xEE and seg[4:9] == b"Adobe"):
            out += seg
        i += 2 + n
    return bytes(out + data[i:])


def sof_offset(data):
    for m in (b"\xff\xc0", b"\xff\xc1", b"\xff\xc2"):
        k = data.find(m)
        if k > 0:
            return k
    raise ValueError("no SOF")


def pil_decodes(data):
    try:
        with Image.open(io.BytesIO(data)) as im:
            return np.asarray(im.convert("RGB"), dtype=np.uint8)
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError):
        return None


def main():
    if len(sys.argv) != 2:
        print(__doc__.split("\n\n")[1], file=sys.stderr)
        return 2
    outdir = sys.argv[1]
    os.makedirs(outdir, exist_ok=True)
    out = ref.Writer(outdir)
    files = []  # (name, bytes, variants)

    def add(name, data, variants=()):
        files.append((name, data, list(variants)))

    rng = np.random.default_rng(14)

    def synth(w, h):
        return Image.fromarray(ref.quantise(ref.field(rng, h, w, 3), 8).astype(np.uint8), "RGB")

    small = synth(37, 29)
    add("base444_37x29.jpg", encode(small, quality=90, subsampling=0), MAIN_VARIANTS)
    add("base422_37x29.jpg", encode(small, quality=90, subsampling=1), MAIN_VARIANTS)
    add("base420_37x29.jpg", encode(small, quality=90, subsampling=2), MAIN_VARIANTS)
    add("base420_q50_37x29.jpg", encode(small, quality=50, subsampling=2))
    add("optimize_37x29.jpg", encode(small, quality=90, optimize=True))
    add("prog420_37x29.jpg", encode(small, quality=90, progressive=True), MAIN_VARIANTS)
    add("prog444_37x29.jpg", encode(small, quality=90, subsampling=0, progressive=True))
    for w, h in [(1, 1), (8, 8), (17, 9), (9, 17), (16, 16), (33, 1)]:
        add(f"base420_{w}x{h}.jpg", encode(synth(w, h), quality=85, subsampling=2))
    add("base420_301x203.jpg", encode(synth(301, 203), quality=85), MAIN_VARIANTS)
    gray = Image.fromarray(ref.quantise(ref.field(rng, 29, 37, 1), 8)[:, :, 0].astype(np.uint8), "L")
    add("gray_37x29.jpg", encode(gray, quality=90), MAIN_VARIANTS)
    add("grayprog_37x29.jpg", encode(gray, quality=90, progressive=True))
    cmyk = encode(small.convert("CMYK"), quality=90)
    assert b"Adobe" in cmyk, "PIL no longer writes an Adobe marker with CMYK"
    add("cmyk_adobe_37x29.jpg", cmyk, MAIN_VARIANTS)
    add("cmyk_noadobe_37x29.jpg", strip_app14(cmyk))
    # CMYK with real black: PIL's convert("CMYK") leaves K at 0
    c = ref.quantise(ref.field(rng, 29, 37, 4), 8).astype(np.uint8)
    add("cmyk_k_37x29.jpg", encode(Image.fromarray(c, "CMYK"), quality=90))
    add("cmyk_prog_37x29.jpg", encode(Image.fromarray(c, "CMYK"), quality=90, progressive=True))
    exif = Image.Exif()
    exif[0x0112] = 6  # orientation: rotate 90 CW to display; convert() ignores it
    add("exif_orient6_37x29.jpg", encode(small, quality=90, exif=exif.tobytes()))
    icc = ImageCms.ImageCmsProfile(ImageCms.createProfile("LAB")).tobytes()
    add("icc_lab_37x29.jpg", encode(small, quality=90, icc_profile=icc))

    # corrupt entropy-coded data: flipped bits, complete file (libjpeg warns)
    good = encode(synth(64, 48), quality=90)
    sos = good.index(b"\xff\xda")
    start = sos + 2 + ((good[sos + 2] << 8) | good[sos + 3])
    bad = bytearray(good)
    for i in range(start + 10, start + 40, 3):
        bad[i] ^= 0x21
        if bad[i] == 0xFF:
            bad[i] = 0x7F
    add("corrupt_bits_64x48.jpg", bytes(bad))
    bad = bytearray(good)
    mid = (start + len(good)) // 2
    bad[mid:mid + 2] = b"\xff\xd0"  # a restart marker where none is expected
    add("corrupt_marker_64x48.jpg", bytes(bad))

    photo = os.path.join(ref.SKIMAGE_DATA, "chelsea.png")
    if os.path.exists(photo):
        with Image.open(photo) as im:
            im = im.convert("RGB")
        add("photo_chelsea.jpg", encode(im, quality=85), MAIN_VARIANTS)
        add("photo_chelsea_prog.jpg", encode(im, quality=85, progressive=True))
    else:
        print("jpeg_ref.py: no skimage data, photographs skipped", file=sys.stderr)

    cjpeg, jpegtran = shutil.which("cjpeg"), shutil.which("jpegtran")
    if cjpeg and jpegtran:
        ppm = os.path.join(outdir, "src.ppm")
        synth(61, 45).save(ppm)
        base = encode(Image.open(ppm), quality=90)

        def run(cmd, data=None):
            return subprocess.run(cmd, input=data, stdout=subprocess.PIPE, check=True).stdout

        add("restart_rows_61x45.jpg", run([jpegtran, "-restart", "1"], base), MAIN_VARIANTS)
        add("restart_2blocks_61x45.jpg", run([jpegtran, "-restart", "2B"], base))
        add("restart_prog_61x45.jpg", run([jpegtran, "-restart", "1", "-progressive"], base))
        add("arith_61x45.jpg", run([jpegtran, "-arithmetic"], base))
        add("rgb_adobe_61x45.jpg", run([cjpeg, "-rgb", "-quality", "90", ppm]), MAIN_VARIANTS)
        add("sample440_61x45.jpg", run([cjpeg, "-sample", "1x2", ppm]))
        add("sample411_61x45.jpg", run([cjpeg, "-sample", "4x1", ppm]))
        os.remove(ppm)
    else:
        print("jpeg_ref.py: no cjpeg/jpegtran (libjpeg-turbo-progs): restart markers, "
              "arithmetic coding, RGB colour space skipped", file=sys.stderr)

    for name, data, variants in files:
        path = os.path.join(outdir, name)
        with open(path, "wb") as f:
            f.write(data)
        rgb = pil_decodes(data)
        if rgb is None:
            sys.exit(f"jpeg_ref.py: PIL cannot decode {name}")
        out.write(name, rgb, variants)

    # Bad files: each must fail in PIL as well.
    prog = encode(synth(64, 48), quality=90, progressive=True)
    sof = sof_offset(good)
    huge = bytearray(good)
    huge[sof + 5:sof + 9] = bytes([20000 >> 8, 20000 & 255, 20000 >> 8, 20000 & 255])
    bads = [
        ("bad_empty.jpg", b""),
        ("bad_soi_only.jpg", good[:2]),
        ("bad_header_cut.jpg", good[:sof + 6]),
        ("bad_scan_cut.jpg", good[:(start + len(good)) // 2]),
        ("bad_no_eoi.jpg", good[:-2]),
        ("bad_prog_cut.jpg", prog[:len(prog) * 2 // 3]),
        ("bad_garbage.jpg", b"\xff\xd8\xff" + bytes(rng.integers(0, 256, 200, dtype=np.uint8))),
        ("bad_huge.jpg", bytes(huge)),
    ]
    for name, data in bads:
        if pil_decodes(data) is not None:
            sys.exit(f"jpeg_ref.py: PIL decodes {name}; it is not a bad file")
        out.bad(name, data)

    with open(os.path.join(outdir, "manifest.txt"), "w") as f:
        f.write("\n".join(out.lines) + "\n")
    print(f"jpeg_ref.py: {len(out.lines)} checks in {outdir}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    torch.set_num_threads(1)
    warnings.simplefilter("ignore", Image.DecompressionBombWarning)
    sys.exit(main())
