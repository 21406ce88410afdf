"""alexnet_cl - AlexNet inference on any OpenCL device, from Python.

A thin ctypes layer over the public C API (include/alexnet.h) of the shared
library libalexnet: no compiled extension, nothing but NumPy besides. Each
method maps onto one or two an_* calls; what the header says of them (shapes,
errors, threads) holds here too.

    import numpy as np, alexnet_cl
    with alexnet_cl.Model("torchvision-224", weights="alexnet.safetensors") as m:
        logits = m.forward(np.zeros((2, 3, 224, 224), np.float32))  # (2, 1000)
        print(m.classify(["cat.png"], top=3))

The GIL: ctypes releases it for the whole of every foreign call, so while a
Model computes (forward, classify, loading) other Python threads run. One
Model may be used from several threads; its calls are serialised by a lock,
as the C library allows one thread at a time per model. Distinct models run
concurrently.

The library is found, in order: $ALEXNET_CL_LIBRARY (a path, for running
from a build tree), the copy installed inside this package (`pip install .`),
then the system's libalexnet (`meson install`). The OpenCL kernels and the
class labels are embedded in the library, so nothing else is looked up.
"""

import ctypes
import ctypes.util
import os
import threading

import numpy as np

__all__ = ["Error", "Model", "devices", "variants", "class_label", "CLASSES"]

# ---------------------------------------------------------------------------
# The library and its declarations (field for field as in alexnet.h)

CLASSES = 1000  # AN_CLASSES
_AN_OK = 0
_AN_OUTPUT_LOGITS, _AN_OUTPUT_PROBS = 0, 1
_AN_MAX_LAYERS = 32


def _find_library():
    """Path or name of libalexnet, in the order the module docstring gives."""
    explicit = os.environ.get("ALEXNET_CL_LIBRARY")
    if explicit:
        return explicit
    here = os.path.join(os.path.dirname(os.path.abspath(__file__)), "libalexnet.so")
    if os.path.exists(here):
        return here
    system = ctypes.util.find_library("alexnet")
    if system:
        return system
    raise ImportError(
        "alexnet_cl: libalexnet not found: not in the package (install it with "
        "`pip install .` from the alexnet-cl source tree), not on the system "
        "(`meson install`), and $ALEXNET_CL_LIBRARY is not set"
    )


# CDLL, not PyDLL: ctypes releases the GIL around every call through it.
_lib = ctypes.CDLL(_find_library())
_libc = ctypes.CDLL(ctypes.util.find_library("c"))
_libc.free.argtypes = [ctypes.c_void_p]
_libc.free.restype = None

_c_float_p = ctypes.POINTER(ctypes.c_float)


class _DeviceInfo(ctypes.Structure):
    _fields_ = [
        ("platform_index", ctypes.c_int),
        ("device_index", ctypes.c_int),
        ("platform", ctypes.c_char * 128),
        ("name", ctypes.c_char * 128),
        ("version", ctypes.c_char * 64),
        ("c_version", ctypes.c_char * 64),
        ("driver", ctypes.c_char * 64),
        ("type", ctypes.c_int),  # an_device_type
        ("compute_units", ctypes.c_uint),
        ("global_mem", ctypes.c_uint64),
        ("max_alloc", ctypes.c_uint64),
        ("local_mem", ctypes.c_uint64),
        ("max_work_group", ctypes.c_size_t),
        ("fp16", ctypes.c_int),
        ("fp64", ctypes.c_int),
        ("float_vector", ctypes.c_int),
        ("unified_memory", ctypes.c_int),
        ("device_class", ctypes.c_int),  # an_device_class
    ]


class _LoadOptions(ctypes.Structure):
    _fields_ = [
        ("weights", ctypes.c_char_p),
        ("seed", ctypes.c_uint64),
        ("device", ctypes.c_char_p),
        ("tuning", ctypes.c_char_p),
        ("tuning_file", ctypes.c_char_p),
        ("cache_dir", ctypes.c_char_p),
        ("kernel_dir", ctypes.c_char_p),
        ("flags", ctypes.c_uint),
    ]


class _Score(ctypes.Structure):
    _fields_ = [("index", ctypes.c_int), ("prob", ctypes.c_float)]


class _Result(ctypes.Structure):
    _fields_ = [
        ("index", ctypes.c_size_t),
        ("path", ctypes.c_char_p),
        ("status", ctypes.c_int),
        ("error", ctypes.c_char_p),
        ("k", ctypes.c_int),
        ("top", ctypes.POINTER(_Score)),
    ]


class _ClassifyOptions(ctypes.Structure):
    _fields_ = [
        ("batch", ctypes.c_int),
        ("top_k", ctypes.c_int),
        ("threads", ctypes.c_int),
        ("preprocess", ctypes.c_void_p),  # NULL: the model's (an_model_preprocess)
    ]


class _LayerInfo(ctypes.Structure):
    _fields_ = [
        ("kind", ctypes.c_int),
        ("type_name", ctypes.c_char_p),
        ("index", ctypes.c_int),
        ("kernel", ctypes.c_int),
        ("stride", ctypes.c_int),
        ("pad", ctypes.c_int),
        ("out_channels", ctypes.c_int),
        ("groups", ctypes.c_int),
        ("c", ctypes.c_int),
        ("h", ctypes.c_int),
        ("w", ctypes.c_int),
        ("params", ctypes.c_int64),
        ("exact", ctypes.c_int),
        ("arith", ctypes.c_char * 192),
    ]


_ResultFn = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.POINTER(_Result), ctypes.c_void_p)


def _declare(name, restype, *argtypes):
    fn = getattr(_lib, name)
    fn.restype = restype
    fn.argtypes = list(argtypes)


_P = ctypes.c_void_p  # opaque handles (an_device *, an_model *, an_plan *)
_declare("an_status_name", ctypes.c_char_p, ctypes.c_int)
_declare("an_status_message", ctypes.c_char_p, ctypes.c_int)
_declare("an_last_error", ctypes.c_char_p)
_declare("an_device_list", ctypes.c_int, ctypes.POINTER(ctypes.POINTER(_DeviceInfo)),
         ctypes.POINTER(ctypes.c_int))
_declare("an_device_get_info", None, _P, ctypes.POINTER(_DeviceInfo))
_declare("an_device_type_name", ctypes.c_char_p, ctypes.c_int)
_declare("an_device_class_name", ctypes.c_char_p, ctypes.c_int)
_declare("an_variant_names", ctypes.POINTER(ctypes.c_char_p))
_declare("an_variant_infer", ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_int,
         ctypes.c_int, ctypes.POINTER(_LayerInfo), ctypes.POINTER(ctypes.c_int))
_declare("an_model_load_opts", ctypes.c_int, _P, ctypes.c_char_p,
         ctypes.POINTER(_LoadOptions), ctypes.POINTER(_P))
_declare("an_model_free", None, _P)
_declare("an_model_variant", ctypes.c_char_p, _P)
_declare("an_model_device", _P, _P)
_declare("an_model_tuning", None, _P, ctypes.c_char_p, ctypes.c_size_t)
_declare("an_plan_create", ctypes.c_int, _P, ctypes.c_int, ctypes.c_int, ctypes.c_int,
         ctypes.POINTER(_P))
_declare("an_plan_forward", ctypes.c_int, _P, _c_float_p, _c_float_p, ctypes.c_int)
_declare("an_plan_free", None, _P)
_declare("an_class_label", ctypes.c_char_p, ctypes.c_int)
_declare("an_classify_files", ctypes.c_int, _P, ctypes.POINTER(ctypes.c_char_p),
         ctypes.c_size_t, ctypes.POINTER(_ClassifyOptions), _ResultFn, ctypes.c_void_p,
         ctypes.c_void_p)


def _text(b):
    """A C string as str; bytes that are not UTF-8 become lone surrogates
    (surrogateescape), as in os.fsdecode and `alexnet classify --json`."""
    return b.decode("utf-8", "surrogateescape") if b is not None else ""


# ---------------------------------------------------------------------------
# Errors


class Error(Exception):
    """A failed library call. status: the an_status or OpenCL code (int);
    name: its symbolic name ("AN_ERR_BAD_WEIGHTS", "CL_OUT_OF_RESOURCES");
    message: an_last_error()'s text, or the status's short description when
    the library left none."""

    def __init__(self, status, message=""):
        self.status = status
        self.name = _text(_lib.an_status_name(status))
        self.message = message or _text(_lib.an_status_message(status))
        super().__init__(status, self.message)  # args as given: pickling rebuilds it

    def __str__(self):
        return f"{self.name}: {self.message}"


def _check(status):
    """Raises Error for a status other than AN_OK. Called on the thread that
    made the call, right after it: the last-error text is per thread."""
    if status != _AN_OK:
        raise Error(status, _text(_lib.an_last_error()))


# ---------------------------------------------------------------------------
# Devices, variants, labels (no model needed)


def _device_dict(info):
    return {
        "selector": f"{info.platform_index}:{info.device_index}",
        "platform": _text(info.platform),
        "name": _text(info.name),
        "type": _text(_lib.an_device_type_name(info.type)),
        "version": _text(info.version),
        "c_version": _text(info.c_version),
        "driver": _text(info.driver),
        "compute_units": info.compute_units,
        "global_mem": info.global_mem,  # bytes
        "max_alloc": info.max_alloc,  # bytes
        "local_mem": info.local_mem,  # bytes
        "max_work_group": info.max_work_group,
        "fp16": bool(info.fp16),
        "fp64": bool(info.fp64),
        "float_vector": info.float_vector,
        "unified_memory": bool(info.unified_memory),
        "device_class": _text(_lib.an_device_class_name(info.device_class)),
    }


def devices():
    """Every OpenCL device of every platform, as `alexnet devices` lists them:
    a list of dicts (selector "P:D" for Model(device=...), platform, name,
    type "gpu"/"cpu"/..., memory sizes in bytes, ...). Raises Error
    (AN_ERR_NO_PLATFORM, AN_ERR_NO_DEVICE) when there is none."""
    arr = ctypes.POINTER(_DeviceInfo)()
    count = ctypes.c_int(0)
    _check(_lib.an_device_list(ctypes.byref(arr), ctypes.byref(count)))
    try:
        return [_device_dict(arr[i]) for i in range(count.value)]
    finally:
        _libc.free(arr)  # the array is the caller's, allocated with malloc


def variants():
    """Names of the built-in network variants ("torchvision-224", ...)."""
    names, out = _lib.an_variant_names(), []
    for i in range(64):
        if not names[i]:
            break
        out.append(_text(names[i]))
    return out


def class_label(index):
    """ImageNet-1k name of class index (0..999), e.g. "tabby"."""
    label = _lib.an_class_label(index)
    if label is None:
        raise IndexError(f"class index {index} is outside 0..{CLASSES - 1}")
    return _text(label)


# ---------------------------------------------------------------------------
# Models


class Model:
    """A network variant with its weights resident on an OpenCL device.

    variant: a name from variants(). weights: a .safetensors file (str, bytes
    or os.PathLike; `alexnet convert` makes one from a .pth or .caffemodel),
    or None for deterministic seeded weights (from `seed`; for tests and
    benchmarks only, their predictions mean nothing). device: a selector as
    in `alexnet --device` ("P:D", "gpu", "cpu", a name substring), or None
    for $ALEXNET_DEVICE, else the first GPU, else the first device.

    an_model_load_opts with the model owning its device. Raises Error:
    AN_ERR_UNKNOWN_VARIANT, AN_ERR_IO (file unreadable), AN_ERR_BAD_WEIGHTS
    (the text names the tensor), AN_ERR_DEVICE_NOT_FOUND, ...

    Release the device memory with close() or a `with` block; garbage
    collection also releases it, later.
    """

    def __init__(self, variant, weights=None, device=None, *, seed=0):
        self._model = None
        self._plan, self._plan_shape = None, None
        self._lock = threading.Lock()
        opts = _LoadOptions()
        opts.weights = os.fsencode(weights) if weights is not None else None
        opts.seed = seed
        opts.device = device.encode() if device is not None else None
        handle = _P()
        _check(_lib.an_model_load_opts(None, str(variant).encode(), ctypes.byref(opts),
                                       ctypes.byref(handle)))
        self._model = handle

    # -- lifetime ----------------------------------------------------------

    def close(self):
        """Frees the plan, the model's device buffers and its device. Later
        calls raise ValueError. Idempotent."""
        with self._lock:
            if self._plan is not None:
                _lib.an_plan_free(self._plan)
                self._plan, self._plan_shape = None, None
            if self._model is not None:
                _lib.an_model_free(self._model)
                self._model = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __del__(self):
        if getattr(self, "_model", None) is not None and _lib is not None:
            self.close()

    def _handle(self):
        if self._model is None:
            raise ValueError("alexnet_cl.Model: the model is closed")
        return self._model

    # -- what it is --------------------------------------------------------

    @property
    def variant(self):
        """The variant's name."""
        with self._lock:
            return _text(_lib.an_model_variant(self._handle()))

    @property
    def device(self):
        """The device the model runs on, as a dict like those of devices()."""
        with self._lock:
            info = _DeviceInfo()
            _lib.an_device_get_info(_lib.an_model_device(self._handle()), ctypes.byref(info))
            return _device_dict(info)

    @property
    def tuning(self):
        """The kernel parameters in effect and where they came from."""
        with self._lock:
            buf = ctypes.create_string_buffer(1024)
            _lib.an_model_tuning(self._handle(), buf, len(buf))
            return _text(buf.value)

    # -- running it --------------------------------------------------------

    def forward(self, x, *, probs=False):
        """Runs the network on x, a float32 C-contiguous NumPy array of shape
        (N, 3, H, W) preprocessed as the variant expects (channel order and
        normalisation: see the README), and returns a new float32 array of
        shape (N, 1000): logits, or softmax probabilities with probs=True.

        Any N >= 1 and any H, W the network accepts (torchvision-224 from
        63x63 up). The plan (device buffers for one N, H, W) is kept for the
        next call of the same shape. Non-finite inputs give non-finite
        outputs; nothing is checked for them here.

        Raises TypeError for another type, dtype or memory layout (no silent
        conversion or copy: pass np.ascontiguousarray(x, np.float32)),
        ValueError for another number of dimensions or an empty batch, and
        Error for what the library refuses: AN_ERR_BAD_SHAPE (not 3 channels,
        or too small: the text has the arithmetic), AN_ERR_TOO_LARGE (with
        the largest batch that fits), or a device error."""
        if not isinstance(x, np.ndarray):
            raise TypeError(f"forward: expected a numpy.ndarray, got {type(x).__name__}")
        if x.dtype != np.float32:
            raise TypeError(f"forward: expected dtype float32, got {x.dtype}")
        if not x.flags["C_CONTIGUOUS"]:
            raise TypeError("forward: the array must be C-contiguous (np.ascontiguousarray)")
        if x.ndim != 4:
            raise ValueError(f"forward: expected shape (N, 3, H, W), got {x.shape}")
        n, c, h, w = x.shape
        if n < 1:
            raise ValueError(f"forward: empty batch, shape {x.shape}")
        out = np.empty((n, CLASSES), np.float32)
        with self._lock:
            model = self._handle()
            if self._plan_shape != (c, n, h, w):
                # the layer table at this size refuses a channel count other
                # than 3 and a size too small with the arithmetic; the plan takes
                # only (N, H, W)
                layers = (_LayerInfo * _AN_MAX_LAYERS)()
                count = ctypes.c_int(0)
                _check(_lib.an_variant_infer(_lib.an_model_variant(model), c, h, w, layers,
                                             ctypes.byref(count)))
                if self._plan is not None:
                    _lib.an_plan_free(self._plan)
                    self._plan, self._plan_shape = None, None
                plan = _P()
                _check(_lib.an_plan_create(model, n, h, w, ctypes.byref(plan)))
                self._plan, self._plan_shape = plan, (c, n, h, w)
            _check(_lib.an_plan_forward(self._plan, x.ctypes.data_as(_c_float_p),
                                        out.ctypes.data_as(_c_float_p),
                                        _AN_OUTPUT_PROBS if probs else _AN_OUTPUT_LOGITS))
        return out

    def classify(self, paths, top=5, *, batch=16, threads=0):
        """Classifies PNG files: paths is one path or a list of them (str,
        bytes or os.PathLike; files only, directories are not walked). Returns
        one dict per path, in input order, shaped as the lines of
        `alexnet classify --json`:

            {"path": "a.png", "top": [{"label": "tabby", "index": 281,
                                       "probability": 0.71}, ...]}
            {"path": "b.png", "error": "b.png: not a PNG file ..."}

        top classes per image (1..1000), most probable first, probabilities as
        the float32 values the library computed; an image that cannot be read
        or decoded, or whose probabilities are not finite, has "error" instead
        and the others go on. Decoded and preprocessed (the weights file's
        "preprocess" metadata, else the variant's own pipeline) on `threads` host threads (0: one per CPU) while the device
        runs the previous batch of `batch` images (an_classify_files).

        Raises Error when the run itself fails (a device error, bad options)."""
        if isinstance(paths, (str, bytes, os.PathLike)):
            paths = [paths]
        encoded = [os.fsencode(p) for p in paths]
        if not encoded:
            return []
        c_paths = (ctypes.c_char_p * len(encoded))(*encoded)
        opts = _ClassifyOptions(batch=batch, top_k=top, threads=threads, preprocess=None)
        results = []

        def on_result(r, user):
            # runs on this thread, inside an_classify_files; copies everything,
            # as the pointers are valid during the callback only. An exception
            # here would be printed and dropped by ctypes: none is raised.
            r = r.contents
            d = {"path": _text(r.path)}
            if r.status != _AN_OK:
                d["error"] = _text(r.error)
            else:
                d["top"] = [{"label": class_label(r.top[i].index), "index": r.top[i].index,
                             "probability": float(r.top[i].prob)} for i in range(r.k)]
            results.append(d)
            return 0

        callback = _ResultFn(on_result)  # kept alive until the call returns
        with self._lock:
            _check(_lib.an_classify_files(self._handle(), c_paths, len(encoded),
                                          ctypes.byref(opts), callback, None, None))
        return results

    def __repr__(self):
        state = "closed" if self._model is None else self.variant
        return f"<alexnet_cl.Model {state}>"
