/* test_convert.c - an_convert end to end on files in the published formats
 * that tests/reference/make_published.py writes with torch and a hand-made
 * protobuf encoder: .pth in both serializations (float32 and float16),
 * .caffemodel in both forms and ONNX exported by torch at opsets 9, 13 and 17
 * (float32, float16) convert to tensors bit-identical to the
 * originals, under the right variant; truncated, flipped and tampered files
 * are refused with a clear error, never a crash, and leave no output; the
 * converted weights classify the sample photographs as torch does. */
#include <check.h>
#include <json-c/json.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "internal.h"
#include "npy.h"

static char pub[4096], tmp[4096];

static void path_of(char *buf, size_t size, const char *dir, const char *name)
{
    int n = snprintf(buf, size, "%s/%s", dir, name);
    ck_assert(n > 0 && (size_t)n < size);
}

static bool exists(const char *path)
{
    return access(path, F_OK) == 0;
}

static unsigned char *slurp(const char *path, size_t *size)
{
    FILE *f = fopen(path, "rb");
    ck_assert_msg(f != NULL, "cannot open %s", path);
    ck_assert_int_eq(fseek(f, 0, SEEK_END), 0);
    long n = ftell(f);
    ck_assert(n >= 0);
    rewind(f);
    unsigned char *buf = malloc((size_t)n + 1);
    ck_assert_ptr_nonnull(buf);
    ck_assert_uint_eq(fread(buf, 1, (size_t)n, f), (size_t)n);
    fclose(f);
    *size = (size_t)n;
    return buf;
}

static void spit(const char *path, const unsigned char *data, size_t size)
{
    FILE *f = fopen(path, "wb");
    ck_assert_msg(f != NULL, "cannot create %s", path);
    ck_assert_uint_eq(fwrite(data, 1, size, f), size);
    ck_assert_int_eq(fclose(f), 0);
}

/* Converts pub/name, checks the variant, and compares every tensor with
 * pub/expected bit for bit (both read through the safetensors loader). */
static void check_conversion(const char *name, const char *expected, const char *variant,
                             const char *dtype)
{
    char in[4400], out[4400], exp_path[4400], partial[4500], got_variant[32];
    path_of(in, sizeof in, pub, name);
    path_of(exp_path, sizeof exp_path, pub, expected);
    snprintf(out, sizeof out, "%s/%s.safetensors", tmp, name);
    snprintf(partial, sizeof partial, "%s.partial", out);
    remove(out);
    int status = an_convert(in, out, got_variant, sizeof got_variant);
    ck_assert_msg(status == AN_OK, "%s: %s", name, an_last_error());
    ck_assert_str_eq(got_variant, variant);
    ck_assert(!exists(partial));

    /* the dtype is kept: look at the header */
    size_t size = 0;
    unsigned char *bytes = slurp(out, &size);
    ck_assert_uint_gt(size, 8);
    char needle[32];
    snprintf(needle, sizeof needle, "\"dtype\":\"%s\"", dtype);
    uint64_t hl = 0;
    for (int i = 7; i >= 0; i--)
        hl = hl << 8 | bytes[i];
    ck_assert_uint_lt(hl, size);
    bytes[8 + hl] = '\0';
    ck_assert_msg(strstr((char *)bytes + 8, needle) != NULL, "%s: header lacks %s", name, needle);
    free(bytes);

    const an__variant *v = an__variant_find(variant);
    ck_assert_ptr_nonnull(v);
    an__weights got, want;
    status = an__weights_load(v, out, &got);
    ck_assert_msg(status == AN_OK, "%s", an_last_error());
    status = an__weights_load(v, exp_path, &want);
    ck_assert_msg(status == AN_OK, "%s", an_last_error());
    ck_assert_int_eq(got.count, want.count);
    int64_t params = 0;
    for (int i = 0; i < got.count; i++) {
        const int *d = got.shape[i].dims;
        size_t n = (size_t)d[0] * d[1] * d[2] * d[3];
        ck_assert_msg(memcmp(got.weight[i], want.weight[i], n * sizeof(float)) == 0,
                      "%s: weight %d differs from the original", name, i);
        ck_assert_msg(memcmp(got.bias[i], want.bias[i], (size_t)d[0] * sizeof(float)) == 0,
                      "%s: bias %d differs from the original", name, i);
        params += (int64_t)n + d[0];
    }
    /* the variant's parameter total, from the converted file's shapes */
    ck_assert_int_eq(params, an_variant_params(variant));
    fprintf(stderr, "# %s: %s, %d tensors bit-identical, %lld parameters\n", name, variant,
            2 * got.count, (long long)params);
    an__weights_free(&got);
    an__weights_free(&want);
    remove(out); /* 240 MB each: keep the build directory small */
}

START_TEST(test_pth_zip)
{
    check_conversion("tv_zip.pth", "tv_expected.safetensors", "torchvision-224", "F32");
}
END_TEST

START_TEST(test_pth_legacy)
{
    check_conversion("tv_legacy.pth", "tv_expected.safetensors", "torchvision-224", "F32");
}
END_TEST

/* classifier.6's weight and bias views of one storage (an offset), under
 * nn.DataParallel's "module." prefix */
START_TEST(test_pth_shared_storage)
{
    check_conversion("tv_shared.pth", "tv_expected.safetensors", "torchvision-224", "F32");
    check_conversion("tv_shared_legacy.pth", "tv_expected.safetensors", "torchvision-224", "F32");
}
END_TEST

START_TEST(test_pth_f16)
{
    check_conversion("tv_f16.pth", "tv_f16_expected.safetensors", "torchvision-224", "F16");
}
END_TEST

START_TEST(test_caffe_layer)
{
    check_conversion("bvlc.caffemodel", "bvlc_expected.safetensors", "caffe-bvlc-227", "F32");
    ck_assert_int_eq(an_variant_params("caffe-bvlc-227"), 60965224);
}
END_TEST

/* BVLC's CaffeNet: the same blobs as caffe-bvlc-227 in another layer order,
 * told apart by the layer list alone (issue 15). */
START_TEST(test_caffenet)
{
    check_conversion("caffenet.caffemodel", "bvlc_expected.safetensors", "caffenet-227", "F32");
    check_conversion("caffenet_v1.caffemodel", "bvlc_expected.safetensors", "caffenet-227", "F32");
}
END_TEST

/* an_convert_variant: a .pth without a layer list converts as the variant named
 * (test_cli: the other one, through --variant);
 * a .caffemodel whose layers are another variant's is refused; unknown names too. */
START_TEST(test_convert_variant)
{
    char in[4400], out[4400];
    an_convert_info info;
    snprintf(out, sizeof out, "%s/named.safetensors", tmp);
    path_of(in, sizeof in, pub, "bvlc_blobs.pth");
    int status = an_convert_variant(in, out, "caffenet-227", &info); /* the CLI: caffe-bvlc-227 */
    ck_assert_msg(status == AN_OK, "%s", an_last_error());
    ck_assert_str_eq(info.variant, "caffenet-227");
    ck_assert(exists(out));
    remove(out);
    ck_assert_int_eq(an_convert_variant(in, out, "torchvision-224", &info), AN_ERR_BAD_WEIGHTS);
    ck_assert_msg(strstr(an_last_error(), "'conv1.weight' is not a tensor of torchvision-224"),
                  "%s", an_last_error());
    ck_assert_int_eq(an_convert_variant(in, out, "no-such-variant", &info), AN_ERR_UNKNOWN_VARIANT);
    path_of(in, sizeof in, pub, "bvlc.caffemodel");
    ck_assert_int_eq(an_convert_variant(in, out, "caffenet-227", &info), AN_ERR_BAD_WEIGHTS);
    ck_assert_msg(strstr(an_last_error(), "network of caffe-bvlc-227, not of caffenet-227"), "%s",
                  an_last_error());
    ck_assert(!exists(out));
    ck_assert_str_eq(info.variant, "");
}
END_TEST

START_TEST(test_caffe_v1)
{
    check_conversion("bvlc_v1.caffemodel", "bvlc_expected.safetensors", "caffe-bvlc-227", "F32");
}
END_TEST

/* ------------------------------------------------------------------------ */
/* Refusals                                                                 */

typedef struct {
    const char *file;
    int status;
    const char *says[3]; /* substrings of the error text */
} refusal;

static void expect_refusal(const char *in, int want, const char *const *says, int n_says)
{
    char out[4400];
    snprintf(out, sizeof out, "%s/refused.safetensors", tmp);
    remove(out);
    int status = an_convert(in, out, NULL, 0);
    const char *err = an_last_error();
    ck_assert_msg(status == want, "%s: status %s, want %s (%s)", in, an_status_name(status),
                  an_status_name(want), err);
    for (int i = 0; i < n_says; i++)
        if (says[i])
            ck_assert_msg(strstr(err, says[i]) != NULL, "%s: error '%s' does not say '%s'", in, err,
                          says[i]);
    ck_assert_msg(!exists(out), "%s: an output was left behind", in);
}

START_TEST(test_refusals)
{
    const refusal cases[] = {
        {"bad_global.pth", AN_ERR_BAD_FILE, {"global 'posix.system' is not allowed", "offset 2"}},
        {"bad_global_legacy.pth",
         AN_ERR_BAD_FILE,
         {"global 'os.system' is not allowed", "state_dict pickle"}},
        {"bad_opcode.pth", AN_ERR_BAD_FILE, {"opcode 0x81", "NEWOBJ", "offset 12"}},
        {"bad_shape.pth",
         AN_ERR_BAD_WEIGHTS,
         {"tensor 'classifier.6.weight' has shape (10, 4096)",
          "torchvision-224 expects (1000, 4096)"}},
        {"bad_shape_caffe.pth",
         AN_ERR_BAD_WEIGHTS,
         {"'conv2.weight' has shape (256, 64, 5, 5)", "caffe-227 expects (256, 96, 5, 5)",
          "caffe-bvlc-227 expects (256, 48, 5, 5)"}},
        {"bad_strided.pth", AN_ERR_BAD_FILE, {"not contiguous"}},
        {"bad_double.pth", AN_ERR_BAD_FILE, {"DoubleStorage", "float32"}},
        {"bad_name.pth", AN_ERR_BAD_WEIGHTS, {"'model.fc.weight' is not a tensor of any variant"}},
        {"bad_checkpoint.pth", AN_ERR_BAD_WEIGHTS, {"missing tensor 'features.0.weight'"}},
        {"bad_ckpt_no_weights.pth",
         AN_ERR_BAD_FILE,
         {"no state_dict found: 'epoch' holds a value of type int", "keys: 'epoch', 'optimizer'"}},
        {"ckpt_tiny_net.pth", AN_ERR_BAD_WEIGHTS, {"'features.0.weight' has shape (2, 3, 3, 3)"}},
        {"ckpt_tiny_model.pth", AN_ERR_BAD_WEIGHTS, {"'features.0.weight' has shape (2, 3, 3, 3)"}},
        {"bad_notzip.pth", AN_ERR_BAD_FILE, {"not a readable zip archive"}},
        {"bad_varint.caffemodel", AN_ERR_BAD_FILE, {"not a valid Caffe NetParameter", "varint"}},
        {"bad_length.caffemodel", AN_ERR_BAD_FILE, {"runs past the end"}},
        {"bad_layer.caffemodel", AN_ERR_BAD_FILE, {"layer 'conv9' has weights"}},
        {"bad_blob.caffemodel", AN_ERR_BAD_FILE, {"shape holds 6 values but its data 5"}},
        {"tiny_zip.pth",
         AN_ERR_BAD_WEIGHTS,
         {"'features.0.weight' has shape (2, 3, 3, 3)", "expects (64, 3, 11, 11)"}},
        {"tiny_legacy.pth", AN_ERR_BAD_WEIGHTS, {"'features.0.weight' has shape (2, 3, 3, 3)"}},
        {"tiny.caffemodel", AN_ERR_BAD_WEIGHTS, {"'conv1.weight' has shape (2, 3, 3, 3)"}},
        {"tiny_v1.caffemodel", AN_ERR_BAD_WEIGHTS, {"'fc8.weight' has shape (3, 2)"}},
        /* issue 15: the layer list decides, and a .pth that fits two networks needs a name */
        {"bad_norm2.caffemodel",
         AN_ERR_BAD_WEIGHTS,
         {"layer 'norm2' (LRN ACROSS_CHANNELS size=3", "differs from caffe-bvlc-227",
          "LRN ACROSS_CHANNELS size=5"}},
        {"bvlc_blobs.pth",
         AN_ERR_BAD_WEIGHTS,
         {"fit both caffe-bvlc-227 and caffenet-227", "no layer list", "--variant"}},
    };
    char in[4400], marker[4400];
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        path_of(in, sizeof in, pub, cases[i].file);
        expect_refusal(in, cases[i].status, cases[i].says, 3);
    }
    /* unpickling bad_global.pth in Python would have created this file */
    path_of(marker, sizeof marker, pub, "pwned");
    ck_assert(!exists(marker));
    /* a missing input and an unwritable output are I/O errors */
    path_of(in, sizeof in, pub, "no-such-file.pth");
    const char *says[] = {"cannot open"};
    expect_refusal(in, AN_ERR_IO, says, 1);
    char out[4400];
    path_of(in, sizeof in, pub, "bvlc_v1.caffemodel");
    path_of(out, sizeof out, pub, "no-such-dir/out.safetensors");
    ck_assert_int_eq(an_convert(in, out, NULL, 0), AN_ERR_IO);
    ck_assert_ptr_nonnull(strstr(an_last_error(), "cannot create"));
}
END_TEST

/* Checkpoints (issue 15): the state_dict under "state_dict" with
 * "features.module.N" names and the optimizer beside it (pytorch/examples),
 * and under "model_state_dict" with DDP's "module." in front, in the legacy
 * format, beside an int64 tensor, floats, lists, tuples and a long int:
 * converted bit for bit, and the key is said. */
START_TEST(test_checkpoints)
{
    check_conversion("ckpt_examples.pth", "tv_expected.safetensors", "torchvision-224", "F32");
    check_conversion("ckpt_ddp_legacy.pth", "tv_expected.safetensors", "torchvision-224", "F32");
    const char *names[][2] = {{"ckpt_examples.pth", "state_dict"},
                              {"ckpt_ddp_legacy.pth", "model_state_dict"},
                              {"tv_zip.pth", ""}};
    for (int i = 0; i < 3; i++) {
        char in[4400], out[4400];
        path_of(in, sizeof in, pub, names[i][0]);
        path_of(out, sizeof out, tmp, "ckpt.safetensors");
        an_convert_info info;
        ck_assert_msg(an_convert_ex(in, out, &info) == AN_OK, "%s", an_last_error());
        ck_assert_str_eq(info.source_key, names[i][1]);
        ck_assert_str_eq(info.variant, "torchvision-224");
        ck_assert_int_eq(remove(out), 0);
    }
    char cmd[16384];
    snprintf(cmd, sizeof cmd,
             "'%s/apps/alexnet' convert '%s/ckpt_examples.pth' '%s/cli_ckpt.safetensors' | grep -q "
             "\"a checkpoint: the weights are its 'state_dict'\" && rm '%s/cli_ckpt.safetensors'",
             getenv("AN_BUILD_ROOT"), pub, tmp, tmp);
    ck_assert_int_eq(system(cmd), 0);
}
END_TEST

/* A NaN or infinity in a tensor is refused, naming the tensor and the first
 * bad flat index (issue 15): torch's legacy format here stores the storage of
 * features.0.weight last, so the file's final four bytes are that tensor's
 * last element, 64*3*11*11 - 1. */
START_TEST(test_nonfinite)
{
    char in[4400], bad[4400];
    path_of(in, sizeof in, pub, "tv_legacy.pth");
    path_of(bad, sizeof bad, tmp, "nan_legacy.pth");
    size_t n;
    unsigned char *buf = slurp(in, &n);
    const unsigned char inf_le[4] = {0x00, 0x00, 0x80, 0xff}; /* -inf */
    memcpy(buf + n - 4, inf_le, 4);
    spit(bad, buf, n);
    free(buf);
    const char *says[] = {"non-finite", "not converted"};
    expect_refusal(bad, AN_ERR_BAD_WEIGHTS, says, 2);
    /* The legacy format ends with the raw data of its last storage, so the
     * poisoned float is the last element of one tensor. Which tensor that is
     * depends on torch.save's storage keys (not fixed from run to run), so
     * the error must name a tensor of the variant and exactly its last index. */
    static const struct {
        const char *name;
        size_t numel;
    } tensors[] = {{"features.0.weight", 64 * 3 * 11 * 11}, {"features.0.bias", 64},
                   {"features.3.weight", 192 * 64 * 5 * 5}, {"features.3.bias", 192},
                   {"features.6.weight", 384 * 192 * 9},    {"features.6.bias", 384},
                   {"features.8.weight", 256 * 384 * 9},    {"features.8.bias", 256},
                   {"features.10.weight", 256 * 256 * 9},   {"features.10.bias", 256},
                   {"classifier.1.weight", 4096 * 9216},    {"classifier.1.bias", 4096},
                   {"classifier.4.weight", 4096 * 4096},    {"classifier.4.bias", 4096},
                   {"classifier.6.weight", 1000 * 4096},    {"classifier.6.bias", 1000}};
    const char *err = an_last_error();
    bool named = false;
    for (size_t i = 0; i < sizeof tensors / sizeof tensors[0]; i++) {
        char want[160];
        snprintf(want, sizeof want, "tensor '%s' holds 1 non-finite value", tensors[i].name);
        if (!strstr(err, want))
            continue;
        snprintf(want, sizeof want, "flat index %zu:", tensors[i].numel - 1);
        ck_assert_msg(strstr(err, want) != NULL, "error '%s' does not say '%s'", err, want);
        named = true;
    }
    ck_assert_msg(named, "error '%s' names no tensor of torchvision-224", err);
    ck_assert_int_eq(remove(bad), 0);
}
END_TEST

/* Files of another kind are named, with what convert accepts (issue 15,
 * item 9): HDF5, NumPy .npy and .npz, safetensors, gzip and image files
 * (ONNX, named here before issue 18, is read: test_onnx_refusals). */
START_TEST(test_wrong_kind)
{
    static const unsigned char hdf5[64] = {0x89, 'H', 'D', 'F', '\r', '\n', 0x1a, '\n'};
    static const unsigned char npy[] = "\x93NUMPY\x01\x00v\x00{'descr': '<f4', 'fortran_order': "
                                       "False, 'shape': (1,), }";
    static const unsigned char st[] = "\x0e\0\0\0\0\0\0\0{\"a\":{}}      ";
    static const unsigned char gz[] = {0x1f, 0x8b, 0x08, 0x00, 0, 0, 0, 0};
    static const unsigned char png[] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n', 0, 0};
    static const unsigned char jpg[] = {0xff, 0xd8, 0xff, 0xe0, 0, 0x10};
    /* a stored zip holding one empty "x.npy", as numpy.savez writes */
    static const unsigned char npz[] = {
        'P', 'K', 3, 4,  20, 0,  0, 0, 0,  0,   0,   0,   0,   0,   0,   0,   0,   0,
        0,   0,   0, 0,  0,  0,  0, 0, 5,  0,   0,   0,   'x', '.', 'n', 'p', 'y', 'P',
        'K', 1,   2, 20, 0,  20, 0, 0, 0,  0,   0,   0,   0,   0,   0,   0,   0,   0,
        0,   0,   0, 0,  0,  0,  0, 0, 0,  5,   0,   0,   0,   0,   0,   0,   0,   0,
        0,   0,   0, 0,  0,  0,  0, 0, 0,  'x', '.', 'n', 'p', 'y', 'P', 'K', 5,   6,
        0,   0,   0, 0,  1,  0,  1, 0, 51, 0,   0,   0,   35,  0,   0,   0,   0,   0};
    const struct {
        const char *name;
        const unsigned char *data;
        size_t size;
        const char *says;
    } cases[] = {
        {"w.h5", hdf5, sizeof hdf5, "is an HDF5 file"},
        {"a.npy", npy, sizeof npy - 1, "is a NumPy .npy array"},
        {"a.npz", npz, sizeof npz, "is a NumPy .npz archive"},
        {"w.safetensors", st, sizeof st - 1, "is a safetensors file"},
        {"w.pth.gz", gz, sizeof gz, "gzip"},
        {"photo.pth", png, sizeof png, "is a PNG image"},
        {"photo.caffemodel", jpg, sizeof jpg, "is a JPEG image"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char in[4400];
        path_of(in, sizeof in, tmp, cases[i].name);
        spit(in, cases[i].data, cases[i].size);
        const char *says[] = {cases[i].says, "PyTorch .pth", "Caffe .caffemodel"};
        expect_refusal(in, AN_ERR_BAD_FILE, says, 3);
        ck_assert_int_eq(remove(in), 0);
    }
}
END_TEST

/* Every prefix of the small files: a .pth prefix is always a format error; a
 * .caffemodel cut at a field boundary is a valid shorter message (protobuf
 * cannot tell), so it only has to fail. The whole small files parse (their
 * error is the shape). */
START_TEST(test_truncated_small)
{
    const char *files[] = {"tiny_zip.pth", "tiny_legacy.pth", "tiny.caffemodel",
                           "tiny_v1.caffemodel"};
    char in[4400], cut[4400], out[4400];
    snprintf(cut, sizeof cut, "%s/cut.bin", tmp);
    snprintf(out, sizeof out, "%s/cut.safetensors", tmp);
    for (size_t f = 0; f < sizeof files / sizeof files[0]; f++) {
        path_of(in, sizeof in, pub, files[f]);
        size_t size = 0;
        unsigned char *data = slurp(in, &size);
        bool pth = strstr(files[f], ".pth") != NULL;
        int bad_file = 0;
        for (size_t n = 0; n < size; n++) {
            spit(cut, data, n);
            int status = an_convert(cut, out, NULL, 0);
            ck_assert_msg(status != AN_OK, "%s cut to %zu bytes was accepted", files[f], n);
            ck_assert_msg(an_last_error()[0] != '\0', "%s cut to %zu: no error text", files[f], n);
            if (pth)
                ck_assert_msg(status == AN_ERR_BAD_FILE, "%s cut to %zu bytes: %s (%s)", files[f],
                              n, an_status_name(status), an_last_error());
            bad_file += status == AN_ERR_BAD_FILE;
            ck_assert(!exists(out));
        }
        ck_assert_int_gt(bad_file, (int)size / 2);
        fprintf(stderr, "# %s: %zu cut points refused (%d as malformed)\n", files[f], size,
                bad_file);
        free(data);
    }
}
END_TEST

/* A few cuts of the full-size files: within the pickle, within the storages,
 * one byte short; the zip's central directory gone. */
START_TEST(test_truncated_large)
{
    const struct {
        const char *file;
        double at[3];
    } cases[] = {
        {"tv_legacy.pth", {0.000004, 0.5, -1}},
        {"tv_zip.pth", {0.5, -1, 0}},
        {"bvlc.caffemodel", {0.3, -1, 0}},
    };
    char in[4400], cut[4400], out[4400];
    snprintf(cut, sizeof cut, "%s/cut_large.bin", tmp);
    snprintf(out, sizeof out, "%s/cut_large.safetensors", tmp);
    for (size_t f = 0; f < sizeof cases / sizeof cases[0]; f++) {
        path_of(in, sizeof in, pub, cases[f].file);
        size_t size = 0;
        unsigned char *data = slurp(in, &size);
        for (int i = 0; i < 3 && cases[f].at[i] != 0; i++) {
            size_t n = cases[f].at[i] < 0 ? size - 1 : (size_t)(cases[f].at[i] * (double)size);
            spit(cut, data, n);
            int status = an_convert(cut, out, NULL, 0);
            ck_assert_msg(status == AN_ERR_BAD_FILE, "%s cut to %zu bytes: %s (%s)", cases[f].file,
                          n, an_status_name(status), an_last_error());
            fprintf(stderr, "# %s cut to %zu: %s\n", cases[f].file, n, an_last_error());
            ck_assert(!exists(out));
        }
        free(data);
    }
    remove(cut);
}
END_TEST

/* Random bytes overwritten in the small files: refused, never a crash. */
START_TEST(test_flipped_bytes)
{
    const char *files[] = {"tiny_zip.pth", "tiny_legacy.pth", "tiny.caffemodel",
                           "tiny_v1.caffemodel"};
    char in[4400], bad[4400], out[4400];
    snprintf(bad, sizeof bad, "%s/flipped.bin", tmp);
    snprintf(out, sizeof out, "%s/flipped.safetensors", tmp);
    uint64_t rng = 99;
    for (size_t f = 0; f < sizeof files / sizeof files[0]; f++) {
        path_of(in, sizeof in, pub, files[f]);
        size_t size = 0;
        unsigned char *data = slurp(in, &size);
        unsigned char *copy = malloc(size);
        for (int iter = 0; iter < 400; iter++) {
            memcpy(copy, data, size);
            for (int k = 0; k < 1 + iter % 3; k++) {
                rng = rng * 6364136223846793005ull + 1442695040888963407ull;
                copy[(rng >> 33) % size] = (unsigned char)(rng >> 20);
            }
            spit(bad, copy, size);
            int status = an_convert(bad, out, NULL, 0);
            /* the tensors are too small for any variant, whatever else changed */
            ck_assert_msg(status != AN_OK, "%s: a damaged copy was accepted", files[f]);
            ck_assert(an_last_error()[0] != '\0');
        }
        free(copy);
        free(data);
    }
}
END_TEST

/* ------------------------------------------------------------------------ */
/* ONNX (issue 18): torchvision's AlexNet exported by torch.onnx.export      */

/* an_convert_ex's variant and format for pub/name (output removed). */
static void onnx_info(const char *name, const char *format)
{
    char in[4400], out[4400];
    path_of(in, sizeof in, pub, name);
    snprintf(out, sizeof out, "%s/info.safetensors", tmp);
    an_convert_info info;
    int status = an_convert_ex(in, out, &info);
    ck_assert_msg(status == AN_OK, "%s: %s", name, an_last_error());
    ck_assert_str_eq(info.variant, "torchvision-224");
    ck_assert_str_eq(info.format, format);
    ck_assert_str_eq(info.source_key, "");
    remove(out);
}

/* opset 9 with its weights in float_data, 13 and 17 in raw_data, float16,
 * MatMul + Add: the torch state_dict's tensors bit for bit */
START_TEST(test_onnx)
{
    check_conversion("onnx_op9.onnx", "tv_expected.safetensors", "torchvision-224", "F32");
    check_conversion("onnx_op13.onnx", "tv_expected.safetensors", "torchvision-224", "F32");
    check_conversion("onnx_op17.onnx", "tv_expected.safetensors", "torchvision-224", "F32");
    check_conversion("onnx_f16.onnx", "tv_f16_expected.safetensors", "torchvision-224", "F16");
    /* classifier.4 as MatMul + Add, classifier.6 as Gemm with transB = 0:
     * their (in, out) weights transposed back */
    check_conversion("onnx_matmul.onnx", "tv_expected.safetensors", "torchvision-224", "F32");
    onnx_info("onnx_op9.onnx", "ONNX ModelProto (opset 9)");
}
END_TEST

START_TEST(test_onnx_refusals)
{
    const refusal cases[] = {
        {"onnx_bad_stride.onnx",
         AN_ERR_BAD_WEIGHTS,
         {"node '/features/features.3/Conv' (Conv)", "attribute 'strides' is [2, 2]",
          "the layer has [1, 1]"}},
        {"onnx_bad_ceil.onnx",
         AN_ERR_BAD_WEIGHTS,
         {"node '/features/features.2/MaxPool' (MaxPool)", "attribute 'ceil_mode' is 1"}},
        {"onnx_bad_extra.onnx",
         AN_ERR_BAD_WEIGHTS,
         {"node '/extra/Sigmoid' (Sigmoid)", "the layer here is a MaxPool"}},
        {"onnx_bad_external.onnx",
         AN_ERR_BAD_FILE,
         {"initializer 'features.0.weight' keeps its data in an external file"}},
        /* conv1's weights only: the walk reaches conv2 and finds none */
        {"onnx_small.onnx",
         AN_ERR_BAD_WEIGHTS,
         {"node '/features/features.3/Conv' (Conv)", "'features.3.weight' is not an initializer"}},
    };
    char in[4400];
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        path_of(in, sizeof in, pub, cases[i].file);
        expect_refusal(in, cases[i].status, cases[i].says, 3);
    }
    /* a hand-made ModelProto (ir_version 7, producer "pytorch", a graph of
     * one node with no input, opset 13): told by content, then refused */
    static const unsigned char onnx[] = {0x08, 0x07, 0x12, 0x07, 'p',  'y',  't',  'o',  'r',  'c',
                                         'h',  0x1a, 0x03, '2',  '.',  '0',  0x3a, 0x06, 0x0a, 0x04,
                                         0x12, 0x02, 'y',  'x',  0x42, 0x02, 0x10, 0x0d};
    path_of(in, sizeof in, tmp, "model.onnx");
    spit(in, onnx, sizeof onnx);
    const char *says[] = {"model.onnx: the graph has no input"};
    expect_refusal(in, AN_ERR_BAD_WEIGHTS, says, 1);
    ck_assert_int_eq(remove(in), 0);
}
END_TEST

/* onnx_small.onnx cut (every byte of the first 4 KiB, then every 97th) and
 * with bytes overwritten: refused, never a crash, no output left */
START_TEST(test_onnx_damaged)
{
    char in[4400], bad[4400], out[4400];
    path_of(in, sizeof in, pub, "onnx_small.onnx");
    snprintf(bad, sizeof bad, "%s/onnx_bad.bin", tmp);
    snprintf(out, sizeof out, "%s/onnx_bad.safetensors", tmp);
    size_t size = 0;
    unsigned char *data = slurp(in, &size);
    int cuts = 0, bad_file = 0;
    for (size_t n = 0; n < size; n += n < 4096 ? 1 : 97) {
        spit(bad, data, n);
        int status = an_convert(bad, out, NULL, 0);
        ck_assert_msg(status != AN_OK, "onnx_small.onnx cut to %zu bytes was accepted", n);
        ck_assert(an_last_error()[0] != '\0');
        ck_assert(!exists(out));
        cuts++;
        bad_file += status == AN_ERR_BAD_FILE;
    }
    ck_assert_int_gt(bad_file, cuts / 2);
    unsigned char *copy = malloc(size);
    ck_assert_ptr_nonnull(copy);
    uint64_t rng = 18;
    for (int iter = 0; iter < 300; iter++) {
        memcpy(copy, data, size);
        for (int k = 0; k < 1 + iter % 3; k++) {
            rng = rng * 6364136223846793005ull + 1442695040888963407ull;
            /* the graph's structure lies in the first 4 KiB; the rest is conv1's data */
            copy[(rng >> 33) % (iter % 2 ? 4096 : size)] = (unsigned char)(rng >> 20);
        }
        spit(bad, copy, size);
        ck_assert_msg(an_convert(bad, out, NULL, 0) != AN_OK, "a damaged copy was accepted");
        ck_assert(an_last_error()[0] != '\0');
        ck_assert(!exists(out));
    }
    fprintf(stderr, "# onnx_small.onnx: %d cuts refused (%d as malformed), 300 damaged copies\n",
            cuts, bad_file);
    free(copy);
    free(data);
    remove(bad);
}
END_TEST

/* ------------------------------------------------------------------------ */
/* The command line, and the photographs                                    */

static int run_cmd(const char *cmd)
{
    int rc = system(cmd);
    ck_assert_msg(rc != -1 && WIFEXITED(rc), "%s did not exit normally", cmd);
    return WEXITSTATUS(rc);
}

START_TEST(test_cli)
{
    const char *build = getenv("AN_BUILD_ROOT");
    ck_assert_ptr_nonnull(build);
    char cmd[16384];
    snprintf(cmd, sizeof cmd,
             "'%s/apps/alexnet' convert '%s/bvlc_v1.caffemodel' '%s/cli.safetensors' "
             "| grep -q 'variant caffe-bvlc-227, 60965224 parameters'",
             build, pub, tmp);
    ck_assert_int_eq(run_cmd(cmd), 0);
    snprintf(cmd, sizeof cmd,
             "'%s/apps/alexnet' convert '%s/bad_global.pth' '%s/cli2.safetensors' "
             "2>&1 | grep -q 'posix.system' && ! test -e '%s/cli2.safetensors'",
             build, pub, tmp, tmp);
    ck_assert_int_eq(run_cmd(cmd), 0);
    snprintf(cmd, sizeof cmd,
             "'%s/apps/alexnet' convert '%s/bad_global.pth' '%s/cli2.safetensors' "
             "2>/dev/null",
             build, pub, tmp);
    ck_assert_int_eq(run_cmd(cmd), 1);
    snprintf(cmd, sizeof cmd, "'%s/apps/alexnet' convert onlyone 2>/dev/null", build);
    ck_assert_int_eq(run_cmd(cmd), 2);
    /* --variant names the network of a .pth that fits two (issue 15) */
    snprintf(cmd, sizeof cmd,
             "'%s/apps/alexnet' convert --variant caffe-bvlc-227 '%s/bvlc_blobs.pth' "
             "'%s/cli3.safetensors' | grep -q 'variant caffe-bvlc-227, 60965224 parameters' && "
             "rm '%s/cli3.safetensors'",
             build, pub, tmp, tmp);
    ck_assert_int_eq(run_cmd(cmd), 0);
    snprintf(cmd, sizeof cmd,
             "'%s/apps/alexnet' convert --variant nope '%s/bvlc_blobs.pth' '%s/cli3.safetensors' "
             "2>&1 | grep -q \"unknown variant 'nope'\"",
             build, pub, tmp);
    ck_assert_int_eq(run_cmd(cmd), 0);
    snprintf(cmd, sizeof cmd,
             "'%s/apps/alexnet' convert --variant nope '%s/bvlc_blobs.pth' '%s/cli3.safetensors' "
             "2>/dev/null",
             build, pub, tmp);
    ck_assert_int_eq(run_cmd(cmd), 2);
    snprintf(cmd, sizeof cmd, "%s/cli.safetensors", tmp);
    ck_assert_int_eq(remove(cmd), 0);
}
END_TEST

/* Top-5 from the runtime against torch on the same photographs: the classes
 * of torch's float64 logits in the same order; probabilities within 2e-5 of
 * torch's float32 forward (what a torch user gets) and of its float64 one.
 * Seen: at most 1.0e-5 from float64 (PoCL and an H200 alike) and 5.8e-6 to
 * 9.7e-6 from torch's float32, whose own gap to float64 reaches 1.0e-5 on
 * these weights; 2e-5 leaves room for other CPUs' torch builds. */
static void compare_top5(const char *what, int image, const int *idx, const float *prob,
                         const float *logits, const float *probs32)
{
    double m = -INFINITY, sum = 0, p[AN_CLASSES];
    int order[AN_CLASSES];
    for (int i = 0; i < AN_CLASSES; i++)
        m = fmax(m, logits[i]);
    for (int i = 0; i < AN_CLASSES; i++)
        sum += p[i] = exp((double)logits[i] - m);
    for (int i = 0; i < AN_CLASSES; i++) {
        p[i] /= sum;
        order[i] = i;
    }
    for (int k = 0; k < 5; k++) /* partial selection sort */
        for (int i = k + 1; i < AN_CLASSES; i++)
            if (p[order[i]] > p[order[k]]) {
                int t = order[i];
                order[i] = order[k];
                order[k] = t;
            }
    for (int k = 0; k < 5; k++) {
        ck_assert_msg(idx[k] == order[k], "%s image %d: class %d is %d, torch says %d (p %g vs %g)",
                      what, image, k, idx[k], order[k], (double)prob[k], p[order[k]]);
        ck_assert_msg(fabs(prob[k] - p[order[k]]) <= 2e-5,
                      "%s image %d class %d: p %.8f, torch float64 %.8f", what, image, idx[k],
                      (double)prob[k], p[order[k]]);
        ck_assert_msg(fabs(prob[k] - probs32[idx[k]]) <= 2e-5,
                      "%s image %d class %d: p %.8f, torch float32 %.8f", what, image, idx[k],
                      (double)prob[k], (double)probs32[idx[k]]);
    }
    fprintf(stderr,
            "# %s image %d: top-5 %d %d %d %d %d as torch (p0 %.7f, torch float32 %.7f, "
            "float64 %.7f)\n",
            what, image, idx[0], idx[1], idx[2], idx[3], idx[4], (double)prob[0],
            (double)probs32[idx[0]], p[order[0]]);
}

static float *load_npy(const char *name, int rows)
{
    char path[4400];
    int d[4], nd = 0;
    float *data = NULL;
    path_of(path, sizeof path, pub, name);
    ck_assert_msg(npy_read_f32(path, &data, d, &nd, 4) == AN_OK, "%s", npy_last_error());
    ck_assert_int_eq(nd, 2);
    ck_assert_int_eq(d[0], rows);
    ck_assert_int_eq(d[1], AN_CLASSES);
    return data;
}

/* The converted weights on exactly torch's preprocessed input x_photos_<tag>.npy:
 * top-5 classes identical, probabilities within 1e-5. */
static void same_input(const char *variant, const char *weights, const char *tag)
{
    char path[4400];
    int xd[4], xn = 0, rd[4], rn = 0;
    float *x = NULL, *ref = NULL;
    snprintf(path, sizeof path, "%s/x_photos_%s.npy", pub, tag);
    ck_assert_msg(npy_read_f32(path, &x, xd, &xn, 4) == AN_OK, "%s", npy_last_error());
    snprintf(path, sizeof path, "%s/ref_photos_%s.npy", pub, tag);
    ck_assert_msg(npy_read_f32(path, &ref, rd, &rn, 4) == AN_OK, "%s", npy_last_error());
    ck_assert_int_eq(xn, 4);
    ck_assert_int_eq(rd[0], xd[0]);
    snprintf(path, sizeof path, "probs_photos_%s.npy", tag);
    float *p32 = load_npy(path, xd[0]);
    an_device *dev = NULL;
    an_model *model = NULL;
    an_plan *plan = NULL;
    ck_assert_msg(an_device_open(NULL, &dev) == AN_OK, "%s", an_last_error());
    ck_assert_msg(an_model_load(dev, variant, weights, &model) == AN_OK, "%s", an_last_error());
    ck_assert_msg(an_plan_create(model, xd[0], xd[2], xd[3], &plan) == AN_OK, "%s",
                  an_last_error());
    float *probs = malloc((size_t)xd[0] * AN_CLASSES * sizeof *probs);
    ck_assert_ptr_nonnull(probs);
    ck_assert_msg(an_plan_forward(plan, x, probs, AN_OUTPUT_PROBS) == AN_OK, "%s", an_last_error());
    for (int i = 0; i < xd[0]; i++) {
        const float *row = probs + (size_t)i * AN_CLASSES;
        int idx[5];
        float prob[5];
        for (int k = 0; k < 5; k++) {
            int best = -1;
            for (int c = 0; c < AN_CLASSES; c++) {
                bool taken = false;
                for (int j = 0; j < k; j++)
                    taken |= idx[j] == c;
                if (!taken && (best < 0 || row[c] > row[best]))
                    best = c;
            }
            idx[k] = best;
            prob[k] = row[best];
        }
        char what[96];
        snprintf(what, sizeof what, "%s on torch's input", variant);
        compare_top5(what, i, idx, prob, ref + (size_t)i * AN_CLASSES,
                     p32 + (size_t)i * AN_CLASSES);
    }
    free(p32);
    free(probs);
    an_plan_free(plan);
    an_model_free(model);
    an_device_free(dev);
    free(x);
    free(ref);
}

static int photo_names(char names[][256], int max)
{
    char list[4400];
    path_of(list, sizeof list, pub, "photos.txt");
    FILE *f = fopen(list, "r");
    if (!f)
        return 0;
    int n = 0;
    while (n < max && fgets(names[n], 256, f)) {
        names[n][strcspn(names[n], "\n")] = '\0';
        if (names[n][0])
            n++;
    }
    fclose(f);
    return n;
}

/* `alexnet classify --json` on the PNGs with weights converted from tv_zip.pth. */
START_TEST(test_classify_torchvision)
{
    const char *build = getenv("AN_BUILD_ROOT"), *src = getenv("AN_SOURCE_ROOT");
    ck_assert_ptr_nonnull(build);
    ck_assert_ptr_nonnull(src);
    char names[16][256];
    int n = photo_names(names, 16);
    ck_assert_msg(n > 0, "no photographs listed (python3-pil missing?)");
    char in[4400], weights[4400];
    path_of(in, sizeof in, pub, "tv_zip.pth");
    snprintf(weights, sizeof weights, "%s/photos_tv.safetensors", tmp);
    ck_assert_msg(an_convert(in, weights, NULL, 0) == AN_OK, "%s", an_last_error());
    int rd[4], rn = 0;
    float *ref = NULL;
    path_of(in, sizeof in, pub, "ref_photos_tv.npy");
    ck_assert_msg(npy_read_f32(in, &ref, rd, &rn, 4) == AN_OK, "%s", npy_last_error());
    ck_assert_int_eq(rd[0], n);
    float *p32 = load_npy("probs_photos_tv.npy", n);

    char cmd[16384];
    size_t used = (size_t)snprintf(cmd, sizeof cmd,
                                   "'%s/apps/alexnet' classify --variant torchvision-224 --weights "
                                   "'%s' --json --top 5",
                                   build, weights);
    for (int i = 0; i < n; i++)
        used +=
            (size_t)snprintf(cmd + used, sizeof cmd - used, " '%s/data/samples/%s'", src, names[i]);
    FILE *p = popen(cmd, "r");
    ck_assert_ptr_nonnull(p);
    char line[8192];
    int seen = 0;
    while (fgets(line, sizeof line, p)) {
        json_object *o = json_tokener_parse(line), *top = NULL, *path = NULL;
        ck_assert_msg(o != NULL, "not JSON: %s", line);
        ck_assert(json_object_object_get_ex(o, "path", &path));
        ck_assert(json_object_object_get_ex(o, "top", &top));
        ck_assert_int_eq((int)json_object_array_length(top), 5);
        int img = -1;
        for (int i = 0; i < n; i++)
            if (strstr(json_object_get_string(path), names[i]))
                img = i;
        ck_assert_int_ge(img, 0);
        int idx[5];
        float prob[5];
        for (int k = 0; k < 5; k++) {
            json_object *e = json_object_array_get_idx(top, (size_t)k), *v = NULL;
            ck_assert(json_object_object_get_ex(e, "index", &v));
            idx[k] = json_object_get_int(v);
            ck_assert(json_object_object_get_ex(e, "probability", &v));
            prob[k] = (float)json_object_get_double(v);
        }
        compare_top5("alexnet classify torchvision-224", img, idx, prob,
                     ref + (size_t)img * AN_CLASSES, p32 + (size_t)img * AN_CLASSES);
        json_object_put(o);
        seen++;
    }
    ck_assert_int_eq(pclose(p), 0);
    ck_assert_int_eq(seen, n);
    free(p32);
    free(ref);
    same_input("torchvision-224", weights, "tv");
    remove(weights);
}
END_TEST

typedef struct {
    int n;
    int idx[16][5];
    float prob[16][5];
} collected;

static int collect_result(const an_result *r, void *user)
{
    collected *c = user;
    ck_assert_msg(r->status == AN_OK, "%s: %s", r->path, r->error);
    ck_assert(r->index < 16 && r->k == 5);
    for (int k = 0; k < 5; k++) {
        c->idx[r->index][k] = r->top[k].index;
        c->prob[r->index][k] = r->top[k].prob;
    }
    c->n++;
    return 0;
}

/* The library's classification on weights converted from bvlc.caffemodel,
 * with Caffe's preprocessing (both sides to 256, crop 227, BGR, mean). */
START_TEST(test_classify_bvlc)
{
    const char *src = getenv("AN_SOURCE_ROOT");
    ck_assert_ptr_nonnull(src);
    char names[16][256], paths[16][4400];
    const char *list[16];
    int n = photo_names(names, 16);
    ck_assert_msg(n > 0, "no photographs listed (python3-pil missing?)");
    for (int i = 0; i < n; i++) {
        snprintf(paths[i], sizeof paths[i], "%s/data/samples/%s", src, names[i]);
        list[i] = paths[i];
    }
    char in[4400], weights[4400];
    path_of(in, sizeof in, pub, "bvlc.caffemodel");
    snprintf(weights, sizeof weights, "%s/photos_bvlc.safetensors", tmp);
    ck_assert_msg(an_convert(in, weights, NULL, 0) == AN_OK, "%s", an_last_error());
    int rd[4], rn = 0;
    float *ref = NULL;
    path_of(in, sizeof in, pub, "ref_photos_bvlc.npy");
    ck_assert_msg(npy_read_f32(in, &ref, rd, &rn, 4) == AN_OK, "%s", npy_last_error());
    float *p32 = load_npy("probs_photos_bvlc.npy", n);

    an_device *dev = NULL;
    an_model *model = NULL;
    ck_assert_msg(an_device_open(NULL, &dev) == AN_OK, "%s", an_last_error());
    ck_assert_msg(an_model_load(dev, "caffe-bvlc-227", weights, &model) == AN_OK, "%s",
                  an_last_error());
    an_preprocess pp;
    ck_assert_int_eq(an_preprocess_default("caffe-227", &pp), AN_OK);
    an_classify_options opt = {.batch = 2, .top_k = 5, .threads = 2, .preprocess = &pp};
    collected c = {0};
    int status = an_classify_files(model, list, (size_t)n, &opt, collect_result, &c, NULL);
    ck_assert_msg(status == AN_OK, "%s", an_last_error());
    ck_assert_int_eq(c.n, n);
    for (int i = 0; i < n; i++)
        compare_top5("an_classify_files caffe-bvlc-227", i, c.idx[i], c.prob[i],
                     ref + (size_t)i * AN_CLASSES, p32 + (size_t)i * AN_CLASSES);
    an_model_free(model);
    an_device_free(dev);
    free(p32);
    free(ref);
    same_input("caffe-bvlc-227", weights, "bvlc");
    remove(weights);
}
END_TEST

/* ------------------------------------------------------------------------ */
/* The preprocessing a source file states                                    */

/* The converted file's "preprocess" metadata entry into buf, "" when none. */
static void header_preprocess(const char *path, char *buf, size_t size)
{
    size_t n = 0;
    unsigned char *bytes = slurp(path, &n);
    uint64_t hl = 0;
    for (int i = 7; i >= 0; i--)
        hl = hl << 8 | bytes[i];
    ck_assert_uint_lt(hl, n);
    bytes[8 + hl] = '\0';
    const char *at = strstr((char *)bytes + 8, "\"preprocess\":\"");
    buf[0] = '\0';
    if (at) {
        at += strlen("\"preprocess\":\"");
        snprintf(buf, size, "%.*s", (int)(strchr(at, '"') - at), at);
    }
    free(bytes);
}

/* A Caffe data layer's transform_param (make_published.py) is recorded by the
 * converter, read back over the variant's pipeline by the loader and used by
 * classify unless options say otherwise; options given win, and the pipeline
 * used is printed. */
START_TEST(test_preprocess_metadata)
{
    const an__variant *v = an__variant_find("caffenet-227");
    static const struct {
        const char *in, *spec;
    } cases[] = {
        {"caffenet_v1.caffemodel", "crop=227;mean=100,110,120;scale=0.5;order=bgr"},
        {"caffenet.caffemodel", "crop=227;mean=104,117,123;order=bgr"},
        {"bvlc_blobs.pth", ""}, /* a .pth states no preprocessing */
    };
    char in[4400], out[3][4400], spec[512];
    for (int i = 0; i < 3; i++) {
        path_of(in, sizeof in, pub, cases[i].in);
        snprintf(out[i], sizeof out[i], "%s/pp_%d.safetensors", tmp, i);
        an_convert_info info;
        ck_assert_msg(an_convert_variant(in, out[i], "caffenet-227", &info) == AN_OK, "%s: %s",
                      cases[i].in, an_last_error());
        header_preprocess(out[i], spec, sizeof spec);
        ck_assert_str_eq(spec, cases[i].spec);
        an__weights w;
        ck_assert_msg(an__weights_load(v, out[i], &w) == AN_OK, "%s", an_last_error());
        ck_assert_int_eq(w.has_preprocess, i < 2);
        if (i == 0) { /* (pixel - mean) * scale: mean * scale held, the resize the variant's */
            ck_assert_int_eq(w.preprocess.resize, 256);
            ck_assert_int_eq(w.preprocess.resize_mode, AN_RESIZE_EXACT);
            ck_assert_int_eq(w.preprocess.crop, 227);
            ck_assert_int_eq(w.preprocess.bgr, 1);
            ck_assert_float_eq(w.preprocess.scale, 0.5f);
            ck_assert_float_eq(w.preprocess.mean[0], 50.0f);
            ck_assert_float_eq(w.preprocess.mean[2], 60.0f);
            ck_assert_float_eq(w.preprocess.std[1], 1.0f);
        } else if (i == 1) { /* BVLC's own: the variant's pipeline, bit for bit */
            ck_assert_int_eq(memcmp(&w.preprocess, &v->preprocess, sizeof w.preprocess), 0);
        }
        an__weights_free(&w);
    }

    /* an ONNX model's metadata_props (ModelProto field 14), appended to an exported
     * model: Windows ML's image entries, then a "preprocess" spec over them */
    static const char *const props[][3] = {
        {"Image.BitmapPixelFormat", "Bgr8", "order=bgr;"},
        {"Image.NominalPixelRange", "NominalRange_0_255",
         "mean=0,0,0;scale=1;std=1,1,1;order=bgr;"},
        {"preprocess", "resize=240;crop=224",
         "mean=0,0,0;scale=1;std=1,1,1;order=bgr;resize=240;crop=224"},
    };
    size_t osize = 0;
    path_of(in, sizeof in, pub, "onnx_op9.onnx");
    unsigned char *onnx = slurp(in, &osize);
    onnx = realloc(onnx, osize + 512);
    ck_assert_ptr_nonnull(onnx);
    for (int i = 0; i < 3; i++) {
        size_t k = strlen(props[i][0]), vl = strlen(props[i][1]);
        unsigned char *p = onnx + osize;
        *p++ = 0x72; /* field 14, length-delimited */
        *p++ = (unsigned char)(4 + k + vl);
        *p++ = 0x0a;
        *p++ = (unsigned char)k;
        memcpy(p, props[i][0], k);
        p += k;
        *p++ = 0x12;
        *p++ = (unsigned char)vl;
        memcpy(p, props[i][1], vl);
        osize += 6 + k + vl;
        char onnx_in[4400];
        snprintf(onnx_in, sizeof onnx_in, "%s/pp_props.onnx", tmp);
        spit(onnx_in, onnx, osize);
        snprintf(out[0], sizeof out[0], "%s/pp_onnx.safetensors", tmp);
        ck_assert_msg(an_convert(onnx_in, out[0], NULL, 0) == AN_OK, "%s", an_last_error());
        header_preprocess(out[0], spec, sizeof spec);
        ck_assert_str_eq(spec, props[i][2]);
        an__weights w;
        const an__variant *tv = an__variant_find("torchvision-224");
        ck_assert_msg(an__weights_load(tv, out[0], &w) == AN_OK, "%s", an_last_error());
        ck_assert(w.has_preprocess);
        ck_assert_int_eq(w.preprocess.bgr, 1);
        ck_assert_float_eq(w.preprocess.scale, i ? 1.0f : 1.0f / 255.0f);
        ck_assert_float_eq(w.preprocess.mean[0], i ? 0.0f : 0.485f);
        ck_assert_int_eq(w.preprocess.resize, i == 2 ? 240 : 256);
        an__weights_free(&w);
        remove(onnx_in);
        remove(out[0]);
    }
    free(onnx);
    snprintf(out[0], sizeof out[0], "%s/pp_0.safetensors", tmp);
    path_of(in, sizeof in, pub, cases[0].in);
    ck_assert_int_eq(an_convert_variant(in, out[0], "caffenet-227", NULL), AN_OK);

    /* the CLI: the weights file's pipeline by default, options over it */
    const char *build = getenv("AN_BUILD_ROOT"), *root = getenv("AN_SOURCE_ROOT");
    ck_assert_ptr_nonnull(build);
    ck_assert_ptr_nonnull(root);
    char cmd[40000], res[3][4500];
    const char *image = "data/samples/chelsea.png";
    const char *runs[3][2] = {
        {out[0], ""},                             /* the file's: mean 100,110,120, scale 0.5 */
        {out[0], "--mean 104,117,123 --scale 1"}, /* options over it: BVLC's own */
        {out[2], ""},                             /* no metadata: the variant's, BVLC's own */
    };
    const char *says[3] = {
        "preprocessing resize=256x256;crop=227;mean=100,110,120;scale=0.5;std=1,1,1;order=bgr "
        "(the weights file's)",
        "preprocessing resize=256x256;crop=227;mean=104,117,123;scale=1;std=1,1,1;order=bgr "
        "(the weights file's, with --mean --scale)",
        "preprocessing resize=256x256;crop=227;mean=104,117,123;scale=1;std=1,1,1;order=bgr "
        "(the variant's default)"};
    for (int i = 0; i < 3; i++) {
        snprintf(res[i], sizeof res[i], "%s/pp_run%d.jsonl", tmp, i);
        int len =
            snprintf(cmd, sizeof cmd,
                     "'%s/apps/alexnet' classify --variant caffenet-227 --weights '%s' %s --json "
                     "--top 5 '%s/%s' > '%s' 2> '%s.err' && grep -qF \"%s\" '%s.err'",
                     build, runs[i][0], runs[i][1], root, image, res[i], res[i], says[i], res[i]);
        ck_assert_int_lt(len, (int)sizeof cmd);
        ck_assert_msg(run_cmd(cmd) == 0, "%s", cmd);
    }
    size_t n1, n2, n0;
    unsigned char *r0 = slurp(res[0], &n0), *r1 = slurp(res[1], &n1), *r2 = slurp(res[2], &n2);
    /* the options give BVLC's pipeline back: the same probabilities as a file without
     * metadata; the file's own pipeline gives others */
    ck_assert_msg(n1 == n2 && memcmp(r1, r2, n1) == 0, "%.*s\nvs\n%.*s", (int)n1, r1, (int)n2, r2);
    ck_assert_msg(n0 != n1 || memcmp(r0, r1, n0) != 0, "the metadata's pipeline was not used");
    fprintf(stderr, "# metadata's pipeline: %.*s# options over it: %.*s", (int)n0, r0, (int)n1, r1);
    free(r0);
    free(r1);
    free(r2);

    /* options refused before anything is opened, naming the value */
    static const char *const bad[][2] = {
        {"--crop 300", "crop 300 is larger than the resize (256)"},
        {"--std 1,0,1", "std 0 (channel 1)"},
        {"--mean 1,2", "not three numbers"},
        {"--resize -1", "resize -1"},
        {"--scale 0", "scale '0'"},
        {"--bgr --rgb", "one of --bgr and --rgb"},
        {"--crop 60 --resize 60x60", "crop 60 does not fit caffenet-227"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        int len = snprintf(
            cmd, sizeof cmd,
            "'%s/apps/alexnet' classify --variant caffenet-227 --weights '%s' %s '%s/%s' "
            "> /dev/null 2> '%s/pp_bad.err'; test $? = 2 && grep -qF \"%s\" '%s/pp_bad.err'",
            build, out[0], bad[i][0], root, image, tmp, bad[i][1], tmp);
        ck_assert_int_lt(len, (int)sizeof cmd);
        ck_assert_msg(run_cmd(cmd) == 0, "%s", cmd);
    }
    for (int i = 0; i < 3; i++) {
        remove(out[i]);
        remove(res[i]);
    }
}
END_TEST

static void setup(void)
{
    const char *dir = getenv("AN_PUB_DIR");
    ck_assert_ptr_nonnull(dir);
    snprintf(pub, sizeof pub, "%s", dir);
    snprintf(tmp, sizeof tmp, "%s/out", dir);
    char cmd[4200];
    snprintf(cmd, sizeof cmd, "mkdir -p '%s'", tmp);
    ck_assert_int_eq(system(cmd), 0);
}

int main(void)
{
    Suite *s = suite_create("convert");
    TCase *tc = tcase_create("convert");
    tcase_add_checked_fixture(tc, setup, NULL);
    tcase_set_timeout(tc, 600);
    tcase_add_test(tc, test_pth_zip);
    tcase_add_test(tc, test_pth_legacy);
    tcase_add_test(tc, test_pth_shared_storage);
    tcase_add_test(tc, test_pth_f16);
    tcase_add_test(tc, test_caffe_layer);
    tcase_add_test(tc, test_caffe_v1);
    tcase_add_test(tc, test_caffenet);
    tcase_add_test(tc, test_convert_variant);
    tcase_add_test(tc, test_refusals);
    tcase_add_test(tc, test_nonfinite);
    tcase_add_test(tc, test_wrong_kind);
    tcase_add_test(tc, test_checkpoints);
    tcase_add_test(tc, test_truncated_small);
    tcase_add_test(tc, test_truncated_large);
    tcase_add_test(tc, test_flipped_bytes);
    tcase_add_test(tc, test_onnx);
    tcase_add_test(tc, test_onnx_refusals);
    tcase_add_test(tc, test_onnx_damaged);
    tcase_add_test(tc, test_cli);
    tcase_add_test(tc, test_classify_torchvision);
    tcase_add_test(tc, test_classify_bvlc);
    suite_add_tcase(s, tc);
    tc = tcase_create("preprocess");
    tcase_add_checked_fixture(tc, setup, NULL);
    tcase_set_timeout(tc, 600);
    tcase_add_test(tc, test_preprocess_metadata);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_ENV);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
