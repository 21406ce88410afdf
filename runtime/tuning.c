/* tuning.c - kernel parameters (an__tuning): the device defaults, the
 * "name=value,..." text form, and the one owner of the tuning file's format:
 * reading, merging and writing it. Choosing parameters is the tuner's job
 * (tune.c); applying them is the plans' (plan.c through an__tuning_for).
 *
 * The file, $cache/tuning.txt, holds one entry a line:
 *     FORMAT|RUNTIME|platform|device|driver|compute units|KEY|name=value,...
 * FORMAT is AN__TUNING_FORMAT; RUNTIME is an__tuning_runtime_version(), a hash
 * of the embedded kernel sources, so entries tuned for other kernels are
 * ignored (stale), as are lines of any other format. KEY is "device" (model-wide
 * parameters), "clblast Xgemm" (CLBlast's kernel parameters) or a layer key
 * (an__tuning_conv_key, an__tuning_fc_key): new algorithms or parameters enter
 * as new names in the parameter table below or new keys, with no format change.
 * A line this runtime cannot use is skipped, never an error. The number of
 * entries has no limit. */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <clblast_c.h>

#include "internal.h"

/* Integrated (or small) GPUs: Intel, AMD APUs, Mali, Adreno. Nothing here
 * is measured on one (there is none to measure on); all is reasoned from
 * what such devices have: a few hundred KiB to a few MiB of cache shared
 * with the CPU, work-groups of 256 or fewer, 32-64 KiB of local memory,
 * float4 as the native vector on Mali and Adreno, and the same memory for
 * weights and host. Checked for correctness on Oclgrind shaped that way
 * (tests/oclgrind_igpu.sh). */
static void integrated_defaults(const an_device_info *info, an__tuning *t)
{
    /* float8 where the driver prefers 8 or more, else float4 (Intel and
     * Adreno report 1, Mali 4) */
    t->conv_vec = info->float_vector >= 8 ? 8 : 4;
    /* small register tiles: 4 pixels x one vector of channels (16 or 32
     * accumulators), 16 work-items along a row, as the large GPUs' */
    t->conv_tx = t->conv1_tx = 4;
    t->conv_ocb = t->conv1_ocb = 1;
    t->conv_local = 16;
    /* our own FC kernels: CLBlast's tuning database knows few integrated
     * GPUs (its untuned SGEMM is slow on PoCL, docs/PERFORMANCE.md), and only
     * the blocked layout takes half-precision weights, which halve the
     * traffic through the shared memory. fc_gemm tiles of 4 rows x one block
     * of 8 (32 accumulators), 16 work-items per group (gemv_blocked: 4096
     * outputs are 512 work-items, 32 groups). */
    t->fc_blocked = 1;
    t->fc_vec = 8;
    t->fc_tm = 4;
    t->fc_tnb = 1;
    t->fc_local = 16;
    t->gemv_lws = 64;
    t->pointwise_local = 64;
    t->pool_px = 1;
    /* direct convolution: Winograd's V and M (tens of MiB at batch 64) go
     * through the small caches twice more; implicit GEMM (a tuner candidate)
     * with K-steps of 16 and 16 x 4 work-items: its panels take 6 KiB of
     * local memory with float4, 8 KiB with float8, within any device's 32 */
    t->conv_algo = 0;
    t->wino_m = 2;
    t->wino_tt = 4;
    t->wino_ocb = 1;
    t->wino_fused = 0;
    t->ig_mb = 2;
    t->ig_nb = 4;
    t->ig_ks = 16;
    t->ig_lx = 16;
    t->ig_ly = 4;
}

an__tuning an__tuning_defaults(const an_device_info *info)
{
    an__tuning t;
    /* the class (an info filled by hand, as in tests, has none: from its type) */
    an_device_class cls = info->device_class ? info->device_class : an__device_classify(info);
    bool cpu = cls == AN_DEVICE_CLASS_CPU;
    /* CPU (PoCL): one work-item per group, large register tiles, contiguous
     * streams, our own FC kernels (CLBlast's untuned SGEMM is slow there).
     * GPU: wider work-groups, interleaved reads, CLBlast for batched FC. */
    /* CPUs: the device's preferred float vector (16 with AVX-512, 8 with
     * AVX2), one output channel per lane; GPUs: 8, measured on an H200 */
    t.conv_vec = 8;
    if (cpu && info->float_vector >= 16)
        t.conv_vec = 16;
    else if (cpu && info->float_vector > 0 && info->float_vector <= 4)
        t.conv_vec = 4;
    /* CPU tiles: with float16 (AVX-512, 32 registers), 3 pixels x 4 blocks
     * (12 accumulators) for the convs after conv1 when they run direct,
     * measured on PoCL (2-core Xeon) at
     * batches 16 and 64. With float8 (AVX2, 16 ymm registers), 4 x 2 (8
     * accumulators): the 4 x 3 found on the Xeon with float8 spills on AVX2,
     * where 4 x 2 took 0.65-0.82x its time on conv2 at batches 1, 16 and 64
     * on both variants (PoCL pthread-haswell, docs/PERFORMANCE.md); 4 x 2
     * for conv1. GPU values: H200 at batch 1. */
    bool wide = t.conv_vec == 16;
    t.conv_tx = cpu && wide ? 3 : 4;
    t.conv_ocb = cpu ? (wide ? 4 : 2) : 1;
    t.conv_local = cpu ? 1 : 16;

    /* conv1 (direct, 11x11 stride 4) with float16: 4 pixels x 4 blocks
     * (16 accumulators; caffe-227's 6 blocks run as 3 + 3, plan.c
     * even_ocb). With the input broadcast from memory (conv.cl), on PoCL
     * pthread-skylake-avx512 (Xeon) at batch 64 it took 41.5 ms against
     * 45.3 for 3 x 4 on torchvision-224, and caffe-227's 55 ms against 86
     * before both changes; at batch 1 0.61 against 0.65 ms, 0.96 against
     * 1.05 (min of 2-3 interleaved rounds, docs/PERFORMANCE.md). */
    t.conv1_tx = 4;
    t.conv1_ocb = cpu ? (wide ? 4 : 2) : 1;
    t.fc_blocked = cpu ? 1 : 0;
    t.fc_vec = t.conv_vec == 16 ? 16 : 8;
    /* FC tiles on CPUs (fc_kb.cl's, and fc_gemm's where fc_kb is 0): with
     * float16 (AVX-512's 32 registers) 8 rows x 3 blocks, 24 accumulators;
     * with float8 (AVX2's 16) 4 rows x 3 blocks, 12 accumulators plus the 3
     * weight vectors and the broadcast row value: 16. 3 x 4 (12 + 4 + 1)
     * spills: on PoCL pthread-haswell (AMD EPYC, Zen 3), torchvision-224 at
     * batch 64, FC6/FC7/FC8 took 57.3/25.1/6.3 ms with it against
     * 27.9/12.5/3.2 with 4 x 3 (6 x 2: 29.0/12.9/3.2, 2 x 4: 31.9/13.9/3.6);
     * caffe-227 at 64 and torchvision-224 at 8 the same (docs/PERFORMANCE.md,
     * "Zen 3 at 860a270"). */
    t.fc_tm = cpu ? (t.fc_vec == 16 ? 8 : 4) : 8;
    t.fc_tnb = cpu ? 3 : 1;
    t.fc_local = 1;
    t.gemv_lws = 64;
    while (t.gemv_lws > 1 && (size_t)t.gemv_lws > info->max_work_group)
        t.gemv_lws /= 2;
    t.gemv_interleaved = cpu ? 0 : 1;
    t.pointwise_local = info->max_work_group >= 64 ? 64 : (int)info->max_work_group;
    t.pool_px = cpu ? 32 : 1; /* CPU: a whole row per work-item (clamped to its width) */
    /* 3x3 stride-1 layers: Winograd on CPUs, measured 1.0-1.7x faster than
     * direct (median 1.3x) on conv3-5 of both variants at batches 1 and 64
     * on PoCL pthread-haswell (AVX2, docs/PERFORMANCE.md); not measured on an
     * AVX-512 CPU, where the direct kernel runs float16. GPUs: direct
     * (unmeasured there). The GEMM block on CPUs: 5 tiles x 2 blocks (10
     * accumulators, room for the broadcasts and the U vectors among AVX2's
     * 16 registers): its GEMM took 0.45-0.6x the CPU time of 4 x 3 (12
     * accumulators, which spill) on conv3-5 at batch 64 and 0.55-0.65x at
     * batch 1 on PoCL pthread-haswell; 4 x 2 close behind, 6 x 2, 3 x 3 and
     * 8 x 1 slower (docs/PERFORMANCE.md). The 5x5 stride-1 layers (conv2)
     * take the same algorithm and block, as F(2x2,5x5): 0.8-1.0x direct's
     * time at batches 1 and 64 on a loaded PoCL pthread-haswell, with the
     * noise as large as the effect at batch 1 (docs/PERFORMANCE.md). With
     * float16 (AVX-512, 32 zmm registers) 6 tiles x 4 blocks (24
     * accumulators): on PoCL pthread-skylake-avx512 it took 0.82-0.87x the
     * time of 5 x 2 on conv2, 0.75-0.98x on conv3-5 at batch 64 of both
     * variants (min of 3 interleaved rounds), end to end 0.90-0.98x at batch
     * 64 and 0.83-0.85x at batch 1; 6 x 3 close, 5 x 3, 7 x 3, 8 x 2, 8 x 3,
     * 4 x 3 and 4 x 4 slower (docs/PERFORMANCE.md, "Winograd on AVX-512"). */
    t.conv_algo = cpu ? 1 : 0;
    /* wino_m 0: each layer takes the large tile where its batch has at
     * least AN_WINO_LARGE_TILES (80) of them (an__winograd_tile), so conv2
     * (81 an image) and conv1 through space-to-depth (196) from batch 1,
     * the 13 x 13 layers (16) from batch 5. At batch 1 on PoCL
     * pthread-skylake-avx512 (Xeon) conv2 took 1.10 against 1.29 ms
     * (torchvision-224) and 1.79 against 2.28 (caffe-227) with F(3x3,5x5);
     * compiled for haswell (the AVX2 defaults) conv2 1.31 against 2.03 and
     * conv1 (s2d) 1.04 against 1.31.
     * 5x5 layers as F(3x3,5x5), F(2x2,5x5) for small planes: 49
     * products per 3x3 tile against 4 x 36 per 2x2 (0.60x), and a 27 x 27
     * plane takes 81 tiles against 196 (0.56x the V). On PoCL
     * pthread-skylake-avx512 (AMD EPYC, Zen 4), min of 2-3 interleaved
     * rounds, conv2 ms: torchvision-224 batch 64 90.6-91.6 -> 85.1-85.6,
     * batch 8 10.5 -> 7.7; caffe-227 batch 64 157 -> 140, batch 8 19.2 ->
     * 12.6; with PoCL compiling for haswell (float8, the AVX2 defaults, a
     * proxy for the AVX2 EPYC) torchvision-224 batch 64 150 -> 95
     * (docs/PERFORMANCE.md, "Winograd F(3x3,5x5)").
     * 3x3 layers as F(4x4,3x3), F(2x2,3x3) where the batch has fewer than
     * 80 large tiles: 36 products per 4x4 tile instead of 4 x 16, but a
     * 13 x 13 plane takes 16 tiles of 16 outputs (256 for 169) against 49
     * of 4 (196), so about 0.73x the GEMM work and of V and M there. On PoCL
     * pthread-skylake-avx512, min of 3 interleaved rounds (ms), conv3/4/5:
     * torchvision-224 batch 64 51.3/66.4/48.5 -> 37.8/53.5/41.9 (end to end
     * 371.5 -> 343.6), caffe-227 batch 64 71.1/70.6/52.0 -> 60.0/58.7/45.9,
     * batch 8 6.6/8.5/8.3 -> 5.1/8.3/6.1, batch 4 mixed (2.9/3.7/2.5 ->
     * 2.5/3.7/3.0), batch 1 slower (0.8/1.1/0.8 -> 1.1/1.4/1.2: 16 tiles a
     * plane leave the GEMMs too few blocks). Both tiles' U are made at load
     * (36/9 and 16/9 of the 3x3 weights). GPUs the same rule (unmeasured;
     * Winograd is off there by default). */
    t.wino_m = 0;
    t.wino_tt = cpu ? (wide ? 6 : 5) : 4;
    t.wino_ocb = cpu ? (wide ? 4 : 2) : 1;
    /* the GEMM and output transform fused (wino_gemm_out, no M buffer) on
     * CPUs where it measured faster: 2, for the layers that reduce over at
     * most 128 channels and at batch 1 (plan.c wino_fused_on). On PoCL
     * pthread-haswell (4 tile blocks a work-item) end to end 0.72-0.90x the
     * unfused time at batch 1; at batch 64 conv2 0.7-0.87x, conv1 0.8-1.0x,
     * conv3-5 1.1-1.6x (docs/PERFORMANCE.md); it drops M (up to 462 MB at
     * batch 64). GPUs: off, private accumulators spill there (unmeasured). A
     * tuner candidate both ways, per layer. */
    t.wino_fused = cpu ? 2 : 0;
    /* implicit GEMM (conv_algo 2, a tuner candidate, no layer's default):
     * on PoCL (AVX2) 3 blocks x 2 pixels per work-item and 16 x 4
     * work-items measured best of the few tried (docs/PERFORMANCE.md);
     * GPUs: 2 x 4 each, K-step 16 (unmeasured) */
    t.ig_mb = cpu ? 3 : 2;
    t.ig_nb = cpu ? 2 : 4;
    t.ig_ks = cpu ? 32 : 16;
    t.ig_lx = 16;
    t.ig_ly = 4;
    /* FC at batch > 1 on CPUs: the K-blocked GEMM (fc_kb.cl), K blocks of
     * 64 inputs, panels of fc_rt row tiles, the next block's weights
     * prefetched. On PoCL pthread-skylake-avx512 (Xeon) at batch 64 on
     * torchvision-224 with 8 rows x 3 blocks of 16 and panels of 8 tiles
     * (64 rows: the weights come from memory once) FC6/FC7/FC8 took
     * 15.8/6.6/1.7 ms against fc_gemm's 33.7/12.7/3.3 (3 x 2 tiles, which
     * stream the weights once per 3 rows); K blocks of 128 and 256 were
     * slower (docs/PERFORMANCE.md, "FC at batch > 1"). GPUs: fc_gemm. */
    t.fc_kb = cpu ? 64 : 0;
    t.fc_rt = (64 + t.fc_tm - 1) / t.fc_tm;
    /* the prefetch is clang's __builtin_prefetch: PoCL lowers it to
     * prefetcht0 (its OpenCL prefetch() does nothing); Oclgrind refuses
     * it, other compilers are unmeasured */
    t.fc_pf = cpu && strstr(info->platform, "Portable Computing Language") != NULL;
    /* FC at batch 1 on CPUs: panels of 1024 outputs (4 KiB rows of float32),
     * the inputs that are zero skipped. After ReLU about half of FC7's and
     * FC8's inputs are zero, and a skipped input is a whole page of weights
     * never read. On PoCL pthread-skylake-avx512 (Xeon), torchvision-224,
     * seeded weights: FC6/FC7/FC8 took 3.98/1.48/0.53 ms against
     * gemv_blocked's 5.14/2.36/0.58 (docs/PERFORMANCE.md, "FC at batch 1:
     * panels that skip zero inputs"). GPUs: gemv_blocked or gemv_rows. */
    t.fc_panel = cpu ? 1024 : 0;
    /* and up to batch 4, where an input column zero in every row is skipped:
     * torchvision-224 on PoCL pthread-skylake-avx512 (AMD EPYC Zen 4), end
     * to end against the K-blocked GEMM (min of 3 interleaved rounds) 14.4
     * against 16.1 ms at batch 2, 19.0 against 20.5 at 3, 23.8 against 24.7
     * at 4 (docs/PERFORMANCE.md, "FC at batches 2 to 4") */
    t.fc_panel_batch = 4;
    /* space-to-depth for stride > 1 (conv1 as a 3x3 conv over 48 channels)
     * on float8 CPUs (AVX2), with a conv1 tile of 3 pixels x 4 blocks: on
     * PoCL pthread-haswell it was faster than direct conv1 (4 x 2) at batch
     * 64 on torchvision-224 and caffe-227 in every quiet round (0.71-0.89x
     * the time) and at batch 1 on the conv1/conv2 ratio (docs/PERFORMANCE.md,
     * "conv1 through space-to-depth"). Not measured with float16 (AVX-512),
     * where conv1's direct tile is already 3 x 4, nor on GPUs: off there. */
    t.conv_s2d = cpu && t.conv_vec == 8;
    if (t.conv_s2d) {
        t.conv1_tx = 3;
        t.conv1_ocb = 4;
    }
    /* Input and output through mapped host memory: on integrated GPUs,
     * where the host's memory is the device's (reasoned: a map there hands
     * back the buffer itself, a copy command may stage it). Off elsewhere:
     * on PoCL (which reports unified memory) it measured no faster than
     * copies (docs/PERFORMANCE.md, "Mapped input and output"). */
    t.io_mapped = cls == AN_DEVICE_CLASS_INTEGRATED;
    if (cls == AN_DEVICE_CLASS_INTEGRATED)
        integrated_defaults(info, &t);
    /* no work-group past the device's (plan.c also clamps each kernel's) */
    int wg =
        info->max_work_group > 0 && info->max_work_group < 1024 ? (int)info->max_work_group : 1024;
    if (t.conv_local > wg)
        t.conv_local = wg;
    if (t.fc_local > wg)
        t.fc_local = wg;
    while (t.ig_lx * t.ig_ly > wg && t.ig_ly > 1)
        t.ig_ly /= 2;
    while (t.ig_lx * t.ig_ly > wg && t.ig_lx > 1)
        t.ig_lx /= 2;
    return t;
}

/* name, offset, smallest and largest value */
static const struct {
    const char *name;
    size_t offset;
    int lo, hi;
} param_table[] = {
    {"conv_tx", offsetof(an__tuning, conv_tx), 1, 16},
    {"conv_ocb", offsetof(an__tuning, conv_ocb), 1, 4},
    {"conv_local", offsetof(an__tuning, conv_local), 1, 1024},
    {"conv1_tx", offsetof(an__tuning, conv1_tx), 1, 16},
    {"conv1_ocb", offsetof(an__tuning, conv1_ocb), 1, 4},
    {"conv_vec", offsetof(an__tuning, conv_vec), 4, 16},

    {"fc_blocked", offsetof(an__tuning, fc_blocked), 0, 1},
    {"fc_vec", offsetof(an__tuning, fc_vec), 8, 16},
    {"fc_tm", offsetof(an__tuning, fc_tm), 1, 16},
    {"fc_tnb", offsetof(an__tuning, fc_tnb), 1, 4},
    {"fc_local", offsetof(an__tuning, fc_local), 1, 1024},
    {"gemv_lws", offsetof(an__tuning, gemv_lws), 1, 1024},
    {"gemv_interleaved", offsetof(an__tuning, gemv_interleaved), 0, 1},
    {"pointwise_local", offsetof(an__tuning, pointwise_local), 1, 1024},
    {"pool_px", offsetof(an__tuning, pool_px), 1, 32},
    {"conv_algo", offsetof(an__tuning, conv_algo), 0, 2},
    {"wino_m", offsetof(an__tuning, wino_m), 0, 4},
    {"wino_tt", offsetof(an__tuning, wino_tt), 1, 8},
    {"wino_ocb", offsetof(an__tuning, wino_ocb), 1, 4},
    {"wino_fused", offsetof(an__tuning, wino_fused), 0, 2},
    {"ig_mb", offsetof(an__tuning, ig_mb), 1, 4},
    {"ig_nb", offsetof(an__tuning, ig_nb), 1, 8},
    {"ig_ks", offsetof(an__tuning, ig_ks), 1, 256},
    {"ig_lx", offsetof(an__tuning, ig_lx), 1, 64},
    {"ig_ly", offsetof(an__tuning, ig_ly), 1, 16},
    {"fc_kb", offsetof(an__tuning, fc_kb), 0, 4096},
    {"fc_rt", offsetof(an__tuning, fc_rt), 1, 64},
    {"fc_pf", offsetof(an__tuning, fc_pf), 0, 1},
    {"fc_panel", offsetof(an__tuning, fc_panel), 0, 4096},
    {"fc_panel_batch", offsetof(an__tuning, fc_panel_batch), 1, 8},
    {"io_mapped", offsetof(an__tuning, io_mapped), 0, 1},
    {"conv_s2d", offsetof(an__tuning, conv_s2d), 0, 1},
};

int an__tuning_parse(const char *text, an__tuning *t)
{
    const char *p = text;
    while (*p) {
        while (*p == ',' || *p == ' ' || *p == '\t')
            p++;
        if (!*p || *p == '\n')
            break;
        size_t n = strcspn(p, "=, \t\n");
        if (p[n] != '=')
            return an__fail(AN_ERR_INVALID_ARGUMENT, "tuning \"%s\": expected name=value at \"%s\"",
                            text, p);
        size_t i = 0;
        while (i < sizeof param_table / sizeof param_table[0] &&
               (strlen(param_table[i].name) != n || strncmp(param_table[i].name, p, n) != 0))
            i++;
        if (i == sizeof param_table / sizeof param_table[0])
            return an__fail(AN_ERR_INVALID_ARGUMENT, "tuning \"%s\": unknown parameter \"%.*s\"",
                            text, (int)n, p);
        char *end = NULL;
        long v = strtol(p + n + 1, &end, 10);
        if (end == p + n + 1 || (*end && !strchr(", \t\n", *end)) || v < param_table[i].lo ||
            v > param_table[i].hi)
            return an__fail(AN_ERR_INVALID_ARGUMENT,
                            "tuning \"%s\": %s takes an integer from %d to %d", text,
                            param_table[i].name, param_table[i].lo, param_table[i].hi);
        if (strcmp(param_table[i].name, "gemv_lws") == 0 && (v & (v - 1)))
            return an__fail(AN_ERR_INVALID_ARGUMENT, "tuning: gemv_lws must be a power of two");
        if (strcmp(param_table[i].name, "conv_vec") == 0 && v != 4 && v != 8 && v != 16)
            return an__fail(AN_ERR_INVALID_ARGUMENT, "tuning: conv_vec must be 4, 8 or 16");
        if (strcmp(param_table[i].name, "fc_panel") == 0 && v != 0 && v < 16)
            return an__fail(AN_ERR_INVALID_ARGUMENT, "tuning: fc_panel must be 0 or 16 to 4096");
        if (strcmp(param_table[i].name, "fc_kb") == 0 && v != 0 && v < 16)
            return an__fail(AN_ERR_INVALID_ARGUMENT, "tuning: fc_kb must be 0 or 16 to 4096");
        if (strcmp(param_table[i].name, "wino_m") == 0 && v != 0 && v != 2 && v != 4)
            return an__fail(AN_ERR_INVALID_ARGUMENT, "tuning: wino_m must be 0, 2 or 4");
        if (strcmp(param_table[i].name, "fc_vec") == 0 && v != 8 && v != 16)
            return an__fail(AN_ERR_INVALID_ARGUMENT, "tuning: fc_vec must be 8 or 16");
        *(int *)((char *)t + param_table[i].offset) = (int)v;
        p = end;
    }
    return AN_OK;
}

void an__tuning_format(const an__tuning *t, char *buf, size_t size)
{
    size_t used = 0;
    buf[0] = 0;
    for (size_t i = 0; i < sizeof param_table / sizeof param_table[0] && used < size; i++)
        used +=
            (size_t)snprintf(buf + used, size - used, "%s%s=%d", i ? "," : "", param_table[i].name,
                             *(const int *)((const char *)t + param_table[i].offset));
}

void an__tuning_device_key(const an_device_info *info, char *buf, size_t size)
{
    snprintf(buf, size, "%s|%s|%s|%u", info->platform, info->name, info->driver,
             info->compute_units);
    for (char *c = buf; *c; c++)
        if (*c == '\n' || *c == '\t')
            *c = ' ';
}

void an__tuning_conv_key(char *buf, size_t size, int c, int h, int w, int oc, int k, int s, int p,
                         int groups, int batch)
{
    snprintf(buf, size, "conv c=%d h=%d w=%d oc=%d k=%d s=%d p=%d g=%d n=%d", c, h, w, oc, k, s, p,
             groups, batch);
}

void an__tuning_fc_key(char *buf, size_t size, int in, int out, int batch)
{
    snprintf(buf, size, "fc i=%d o=%d n=%d", in, out, batch);
}

/* ------------------------------------------------------------------------ */
/* Tuning entries and the file                                              */

uint64_t an__tuning_runtime_version(void)
{
    uint64_t h = AN_FNV_SEED;
    for (const struct an__embedded *e = an__embedded_kernels; e->name; e++) {
        h = an__fnv1a(h, e->name, strlen(e->name) + 1);
        h = an__fnv1a(h, e->text, e->len);
    }
    return h;
}

void an__tuning_line_prefix(const an_device_info *info, char *buf, size_t size)
{
    char dkey[512];
    an__tuning_device_key(info, dkey, sizeof dkey);
    snprintf(buf, size, "%d|%016llx|%s", AN__TUNING_FORMAT,
             (unsigned long long)an__tuning_runtime_version(), dkey);
}

const char *an__tuning_path(void)
{
    static _Thread_local char path[4200];
    const char *dir = an__cache_dir();
    if (!dir)
        return NULL;
    snprintf(path, sizeof path, "%s/tuning.txt", dir);
    return path;
}

an__tuning_entry *an__tuning_table_find(const an__tuning_table *t, const char *key)
{
    for (size_t i = 0; i < t->n; i++)
        if (strcmp(t->e[i].key, key) == 0)
            return &t->e[i];
    return NULL;
}

int an__tuning_table_set(an__tuning_table *t, const char *key, const char *params, double ms)
{
    char *p = strdup(params ? params : "");
    if (!p)
        return an__fail(AN_ERR_OUT_OF_MEMORY, "out of memory in the tuning table");
    an__tuning_entry *e = an__tuning_table_find(t, key);
    if (e) {
        free(e->params);
        e->params = p;
        e->ms = ms;
        return AN_OK;
    }
    if (t->n == t->cap) {
        size_t cap = t->cap ? 2 * t->cap : 32;
        an__tuning_entry *grown = realloc(t->e, cap * sizeof *grown);
        if (!grown) {
            free(p);
            return an__fail(AN_ERR_OUT_OF_MEMORY, "out of memory in the tuning table");
        }
        t->e = grown;
        t->cap = cap;
    }
    char *k = strdup(key);
    if (!k) {
        free(p);
        return an__fail(AN_ERR_OUT_OF_MEMORY, "out of memory in the tuning table");
    }
    t->e[t->n++] = (an__tuning_entry){k, p, ms};
    return AN_OK;
}

void an__tuning_table_free(an__tuning_table *t)
{
    if (!t)
        return;
    for (size_t i = 0; i < t->n; i++) {
        free(t->e[i].key);
        free(t->e[i].params);
    }
    free(t->e);
    memset(t, 0, sizeof *t);
}

/* The key of a line when it is a current entry for the device whose line
 * prefix is prefix (its text up to the next '|' in *key_len), else NULL. */
static const char *line_key(const char *line, size_t len, const char *prefix, size_t plen,
                            size_t *key_len)
{
    if (len <= plen || strncmp(line, prefix, plen) != 0 || line[plen] != '|')
        return NULL;
    const char *key = line + plen + 1;
    const char *bar = memchr(key, '|', len - plen - 1);
    if (!bar || bar == key)
        return NULL;
    *key_len = (size_t)(bar - key);
    return key;
}

int an__tuning_table_parse(const char *text, const an_device_info *info, an__tuning_table *out)
{
    char prefix[700], key[512];
    an__tuning_line_prefix(info, prefix, sizeof prefix);
    size_t plen = strlen(prefix);
    for (const char *line = text; *line;) {
        size_t len = strcspn(line, "\n");
        size_t klen = 0;
        const char *k = line_key(line, len, prefix, plen, &klen);
        if (k && klen < sizeof key) {
            memcpy(key, k, klen);
            key[klen] = 0;
            const char *params = k + klen + 1;
            size_t params_len = len - (size_t)(params - line);
            char *copy = strndup(params, params_len);
            int status = copy ? an__tuning_table_set(out, key, copy, 0)
                              : an__fail(AN_ERR_OUT_OF_MEMORY, "out of memory");
            free(copy);
            if (status != AN_OK)
                return status;
        }
        line += len + (line[len] == '\n');
    }
    return AN_OK;
}

static char *read_text(const char *path, int *status)
{
    *status = AN_OK;
    FILE *f = fopen(path, "rb");
    if (!f) {
        if (errno != ENOENT)
            *status =
                an__fail(AN_ERR_IO, "cannot read the tuning file %s: %s", path, strerror(errno));
        return NULL;
    }
    size_t cap = 4096, n = 0;
    char *buf = malloc(cap);
    while (buf) {
        if (n + 1 >= cap) {
            char *grown = realloc(buf, cap *= 2);
            if (!grown) {
                free(buf);
                buf = NULL;
                break;
            }
            buf = grown;
        }
        size_t got = fread(buf + n, 1, cap - n - 1, f);
        n += got;
        if (got == 0)
            break;
    }
    if (buf)
        buf[n] = 0;
    else
        *status = an__fail(AN_ERR_OUT_OF_MEMORY, "out of memory reading %s", path);
    fclose(f);
    return buf;
}

int an__tuning_table_read(const char *path, const an_device_info *info, an__tuning_table *out)
{
    int status = AN_OK;
    char *text = read_text(path, &status);
    if (text)
        status = an__tuning_table_parse(text, info, out);
    free(text);
    return status;
}

int an__tuning_table_merge(const char *path, const an_device_info *info, const an__tuning_table *t)
{
    int status = AN_OK;
    char prefix[700];
    an__tuning_line_prefix(info, prefix, sizeof prefix);
    size_t plen = strlen(prefix);
    char *old = read_text(path, &status);
    if (status != AN_OK)
        return status;
    size_t tlen = strlen(path) + 16;
    char *tmp = malloc(tlen);
    if (!tmp) {
        free(old);
        return an__fail(AN_ERR_OUT_OF_MEMORY, "out of memory");
    }
    snprintf(tmp, tlen, "%s.XXXXXX", path);
    int fd = mkstemp(tmp); /* unique: two tuners never share a temporary file */
    if (fd >= 0)
        fchmod(fd, 0644);
    FILE *f = fd >= 0 ? fdopen(fd, "w") : NULL;
    if (!f) {
        status = an__fail(AN_ERR_IO, "cannot write a temporary file beside %s: %s", path,
                          strerror(errno));
        if (fd >= 0)
            close(fd);
        goto done;
    }
    fprintf(f,
            "# alexnet tuning, format %d: "
            "format|runtime|platform|device|driver|compute units|key|parameters\n",
            AN__TUNING_FORMAT);
    /* kept: every line of another device or runtime version in this format;
     * dropped: comments, other formats, and this device's keys that t sets */
    char fmt[16];
    int fmt_len = snprintf(fmt, sizeof fmt, "%d|", AN__TUNING_FORMAT);
    for (const char *line = old ? old : ""; *line;) {
        size_t len = strcspn(line, "\n"), klen = 0;
        bool keep = len > 0 && strncmp(line, fmt, (size_t)fmt_len) == 0;
        const char *k = keep ? line_key(line, len, prefix, plen, &klen) : NULL;
        for (size_t i = 0; k && i < t->n && keep; i++)
            if (strlen(t->e[i].key) == klen && strncmp(t->e[i].key, k, klen) == 0)
                keep = false;
        if (keep)
            fprintf(f, "%.*s\n", (int)len, line);
        line += len + (line[len] == '\n');
    }
    for (size_t i = 0; i < t->n; i++)
        if (t->e[i].params[0]) /* "" removes the key */
            fprintf(f, "%s|%s|%s\n", prefix, t->e[i].key, t->e[i].params);
    if (fclose(f) != 0 || rename(tmp, path) != 0) {
        status = an__fail(AN_ERR_IO, "cannot write the tuning file %s: %s", path, strerror(errno));
        remove(tmp);
    }
done:
    free(tmp);
    free(old);
    return status;
}

/* ------------------------------------------------------------------------ */
/* A model's tuning                                                         */

an__tuning an__tuning_for(const an_model *m, const char *key)
{
    an__tuning t = m->tuning;
    const an__tuning_entry *e = an__tuning_table_find(&m->tuned, key);
    if (e && an__tuning_parse(e->params, &t) != AN_OK)
        return m->tuning; /* a bad entry: the device's tuning */
    return t;
}

int an__clblast_override(cl_device_id device, const char *kernel, const char *text)
{
    enum { MAX_PARAMS = 32 };
    char names[MAX_PARAMS][24];
    const char *name_ptrs[MAX_PARAMS];
    size_t values[MAX_PARAMS];
    size_t n = 0;
    const char *p = text;
    while (*p) {
        size_t len = strcspn(p, "=");
        char *end = NULL;
        if (n == MAX_PARAMS || len == 0 || len >= sizeof names[0] || p[len] != '=')
            return an__fail(AN_ERR_INVALID_ARGUMENT,
                            "CLBlast %s parameters \"%s\": expected "
                            "NAME=VALUE,... (at most %d)",
                            kernel, text, MAX_PARAMS);
        unsigned long long v = strtoull(p + len + 1, &end, 10);
        if (end == p + len + 1 || (*end && *end != ','))
            return an__fail(AN_ERR_INVALID_ARGUMENT,
                            "CLBlast %s parameters \"%s\": bad value "
                            "for %.*s",
                            kernel, text, (int)len, p);
        memcpy(names[n], p, len);
        names[n][len] = 0;
        name_ptrs[n] = names[n];
        values[n++] = (size_t)v;
        p = *end ? end + 1 : end;
    }
    CLBlastStatusCode st =
        CLBlastOverrideParameters(device, kernel, CLBlastPrecisionSingle, n, name_ptrs, values);
    if (st != CLBlastSuccess)
        return an__fail(AN_ERR_CLBLAST, "CLBlastOverrideParameters(%s, \"%s\") failed: %d", kernel,
                        text, (int)st);
    return AN_OK;
}

/* Defaults, then the tuning file's entries for this device ("device" applies
 * to the whole model, "clblast Xgemm" overrides CLBlast's SGEMM kernel
 * parameters for the device, other keys apply to one layer shape and batch),
 * or, when a tuning text is forced, the defaults with that on everything (and
 * CLBlast left as it is). */
int an__tuning_load(an_model *m, const char *forced, const char *path)
{
    m->tuning = an__tuning_defaults(&m->dev->info);
    if (forced && *forced)
        return an__tuning_parse(forced, &m->tuning);
    if (!path)
        return AN_OK;
    an__tuning_table file = {0};
    int status = an__tuning_table_read(path, &m->dev->info, &file);
    if (status != AN_OK) {
        an__tuning_table_free(&file);
        return status;
    }
    for (size_t i = 0; i < file.n && status == AN_OK; i++) {
        const an__tuning_entry *e = &file.e[i];
        if (strcmp(e->key, "device") == 0) {
            an__tuning t = m->tuning;
            if (an__tuning_parse(e->params, &t) == AN_OK)
                m->tuning = t; /* a malformed entry is ignored: defaults stay */
        } else if (strncmp(e->key, "clblast ", 8) == 0) {
            /* a set CLBlast refuses leaves its own parameters in place */
            if (an__clblast_override(m->dev->device, e->key + 8, e->params) == AN_OK)
                snprintf(m->clblast, sizeof m->clblast, "%s", e->key + 8);
        } else {
            status = an__tuning_table_set(&m->tuned, e->key, e->params, 0);
        }
    }
    an__tuning_table_free(&file);
    return status;
}
