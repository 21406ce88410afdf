/* test_variant.c - the variant tables and shape inference, no OpenCL: output
 * shapes and parameter counts at the native sizes, the arithmetic strings and
 * exactness flags, other and non-square sizes, the smallest usable input,
 * rejected inputs with their error texts, and the status names. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

/* One expected row: output shape and parameter count. */
typedef struct {
    const char *type_name;
    int c, h, w;
    int64_t params;
} expect_row;

/* Runs an_variant_infer and checks every row against want[0..21). */
static void check_table(const char *variant, int size, const expect_row *want)
{
    an_layer_info layers[AN_MAX_LAYERS];
    int count = -1;
    ck_assert_int_eq(an_variant_infer(variant, 3, size, size, layers, &count), AN_OK);
    ck_assert_int_eq(count, 21);
    int64_t total = 0;
    for (int i = 0; i < count; i++) {
        const an_layer_info *l = &layers[i];
        ck_assert_msg(strcmp(l->type_name, want[i].type_name) == 0, "%s layer %d: %s, want %s",
                      variant, i + 1, l->type_name, want[i].type_name);
        ck_assert_int_eq(l->index, i + 1);
        ck_assert_msg(l->c == want[i].c && l->h == want[i].h && l->w == want[i].w,
                      "%s %s-%d: %dx%dx%d, want %dx%dx%d", variant, l->type_name, l->index, l->c,
                      l->h, l->w, want[i].c, want[i].h, want[i].w);
        ck_assert_msg(l->params == want[i].params, "%s %s-%d: %lld params, want %lld", variant,
                      l->type_name, l->index, (long long)l->params, (long long)want[i].params);
        total += l->params;
    }
    ck_assert_int_eq(total, an_variant_params(variant));
}

START_TEST(test_torchvision_native)
{
    static const expect_row want[21] = {
        {"Conv2d", 64, 55, 55, 23296},    {"ReLU", 64, 55, 55, 0},
        {"MaxPool2d", 64, 27, 27, 0},     {"Conv2d", 192, 27, 27, 307392},
        {"ReLU", 192, 27, 27, 0},         {"MaxPool2d", 192, 13, 13, 0},
        {"Conv2d", 384, 13, 13, 663936},  {"ReLU", 384, 13, 13, 0},
        {"Conv2d", 256, 13, 13, 884992},  {"ReLU", 256, 13, 13, 0},
        {"Conv2d", 256, 13, 13, 590080},  {"ReLU", 256, 13, 13, 0},
        {"MaxPool2d", 256, 6, 6, 0},      {"AdaptiveAvgPool2d", 256, 6, 6, 0},
        {"Dropout", 9216, 1, 1, 0},       {"Linear", 4096, 1, 1, 37752832},
        {"ReLU", 4096, 1, 1, 0},          {"Dropout", 4096, 1, 1, 0},
        {"Linear", 4096, 1, 1, 16781312}, {"ReLU", 4096, 1, 1, 0},
        {"Linear", 1000, 1, 1, 4097000},
    };
    check_table("torchvision-224", 224, want);
    ck_assert_int_eq(an_variant_params("torchvision-224"), 61100840);
    int h = 0, w = 0;
    ck_assert_int_eq(an_variant_input_size("torchvision-224", &h, &w), AN_OK);
    ck_assert_int_eq(h, 224);
    ck_assert_int_eq(w, 224);
}
END_TEST

START_TEST(test_caffe_native)
{
    static const expect_row want[21] = {
        {"Conv2d", 96, 55, 55, 34944},    {"ReLU", 96, 55, 55, 0},
        {"MaxPool2d", 96, 27, 27, 0},     {"Conv2d", 256, 27, 27, 614656},
        {"ReLU", 256, 27, 27, 0},         {"MaxPool2d", 256, 13, 13, 0},
        {"Conv2d", 384, 13, 13, 885120},  {"ReLU", 384, 13, 13, 0},
        {"Conv2d", 256, 13, 13, 884992},  {"ReLU", 256, 13, 13, 0},
        {"Conv2d", 256, 13, 13, 590080},  {"ReLU", 256, 13, 13, 0},
        {"MaxPool2d", 256, 6, 6, 0},      {"AdaptiveAvgPool2d", 256, 6, 6, 0},
        {"Dropout", 9216, 1, 1, 0},       {"Linear", 4096, 1, 1, 37752832},
        {"ReLU", 4096, 1, 1, 0},          {"Dropout", 4096, 1, 1, 0},
        {"Linear", 4096, 1, 1, 16781312}, {"ReLU", 4096, 1, 1, 0},
        {"Linear", 1000, 1, 1, 4097000},
    };
    check_table("caffe-227", 227, want);
    ck_assert_int_eq(an_variant_params("caffe-227"), 61640936);
    int h = 0, w = 0;
    ck_assert_int_eq(an_variant_input_size("caffe-227", &h, &w), AN_OK);
    ck_assert_int_eq(h, 227);
    ck_assert_int_eq(w, 227);
}
END_TEST

START_TEST(test_layer_fields)
{
    an_layer_info l[AN_MAX_LAYERS];
    int count = 0;
    ck_assert_int_eq(an_variant_infer("torchvision-224", 3, 224, 224, l, &count), AN_OK);
    ck_assert_int_eq(l[0].kind, AN_LAYER_CONV);
    ck_assert_int_eq(l[0].kernel, 11);
    ck_assert_int_eq(l[0].stride, 4);
    ck_assert_int_eq(l[0].pad, 2);
    ck_assert_int_eq(l[0].out_channels, 64);
    ck_assert_int_eq(l[2].kind, AN_LAYER_MAXPOOL);
    ck_assert_int_eq(l[2].kernel, 3);
    ck_assert_int_eq(l[2].stride, 2);
    ck_assert_int_eq(l[13].kind, AN_LAYER_ADAPTIVE_AVGPOOL);
    ck_assert_int_eq(l[14].kind, AN_LAYER_DROPOUT);
    ck_assert_int_eq(l[15].kind, AN_LAYER_LINEAR);
    ck_assert_int_eq(l[15].out_channels, 4096);
    ck_assert_int_eq(l[20].out_channels, AN_CLASSES);
    ck_assert_int_eq(l[1].kind, AN_LAYER_RELU);
    ck_assert_int_eq(l[1].kernel, 0);
    ck_assert_int_eq(l[1].params, 0);
}
END_TEST

/* The arithmetic strings and exactness flags at the native sizes. */
START_TEST(test_arith_native)
{
    an_layer_info l[AN_MAX_LAYERS];
    int count = 0;
    ck_assert_int_eq(an_variant_infer("torchvision-224", 3, 224, 224, l, &count), AN_OK);
    ck_assert_str_eq(l[0].arith, "k=11,s=4,p=2 (224+4-11)/4+1=55.25");
    ck_assert_int_eq(l[0].exact, 0); /* 217/4 is floored */
    ck_assert_str_eq(l[2].arith, "k=3,s=2 (55-3)/2+1=27");
    ck_assert_int_eq(l[2].exact, 1);
    ck_assert_str_eq(l[3].arith, "k=5,s=1,p=2 (27+4-5)/1+1=27");
    ck_assert_str_eq(l[12].arith, "k=3,s=2 (13-3)/2+1=6");
    ck_assert_str_eq(l[13].arith, "out=6x6, identity");
    ck_assert_str_eq(l[15].arith, "9216->4096");
    ck_assert_str_eq(l[20].arith, "4096->1000");
    for (int i = 1; i < count; i++)
        ck_assert_msg(l[i].exact, "torchvision-224 at 224: %s-%d inexact", l[i].type_name,
                      l[i].index);

    ck_assert_int_eq(an_variant_infer("caffe-227", 3, 227, 227, l, &count), AN_OK);
    ck_assert_str_eq(l[0].arith, "k=11,s=4 (227-11)/4+1=55");
    for (int i = 0; i < count; i++)
        ck_assert_msg(l[i].exact, "caffe-227 at 227: %s-%d inexact", l[i].type_name, l[i].index);
}
END_TEST

/* caffe-227 fed 224x224: every window layer but the 3x3 convs floors. */
START_TEST(test_caffe_at_224)
{
    an_layer_info l[AN_MAX_LAYERS];
    int count = 0;
    ck_assert_int_eq(an_variant_infer("caffe-227", 3, 224, 224, l, &count), AN_OK);
    ck_assert_int_eq(count, 21);
    ck_assert_str_eq(l[0].arith, "k=11,s=4 (224-11)/4+1=54.25");
    ck_assert_int_eq(l[0].exact, 0);
    ck_assert_int_eq(l[0].h, 54);
    ck_assert_str_eq(l[2].arith, "k=3,s=2 (54-3)/2+1=26.5");
    ck_assert_int_eq(l[2].exact, 0);
    ck_assert_int_eq(l[2].h, 26);
    ck_assert_int_eq(l[3].exact, 1); /* 5x5 pad 2 keeps the size */
    ck_assert_int_eq(l[3].h, 26);
    ck_assert_str_eq(l[5].arith, "k=3,s=2 (26-3)/2+1=12.5");
    ck_assert_int_eq(l[5].exact, 0);
    ck_assert_int_eq(l[5].h, 12);
    ck_assert_str_eq(l[12].arith, "k=3,s=2 (12-3)/2+1=5.5");
    ck_assert_int_eq(l[12].exact, 0);
    ck_assert_int_eq(l[12].h, 5);
    ck_assert_str_eq(l[13].arith, "out=6x6 from 5x5");
    ck_assert_int_eq(l[13].h, 6);
    ck_assert_int_eq(l[14].c, 9216);
    int inexact = 0;
    for (int i = 0; i < count; i++)
        inexact += !l[i].exact;
    ck_assert_int_eq(inexact, 4);
}
END_TEST

/* The ONNX zoo's bvlcalexnet: BVLC's network at 224 with Caffe's pools,
 * which round up: 54 -> 27 -> 13 -> 6, so fc6 sees 256x6x6 without the
 * adaptive pool; at 227 it is caffe-bvlc-227 exactly. */
START_TEST(test_bvlc_224_ceil)
{
    an_layer_info l[AN_MAX_LAYERS], m[AN_MAX_LAYERS];
    int count = 0, n = 0, h = 0, w = 0;
    ck_assert_int_eq(an_variant_input_size("caffe-bvlc-224", &h, &w), AN_OK);
    ck_assert_int_eq(h, 224);
    ck_assert_int_eq(w, 224);
    ck_assert_int_eq(an_variant_infer("caffe-bvlc-224", 3, 224, 224, l, &count), AN_OK);
    ck_assert_int_eq(count, 23);
    ck_assert_str_eq(l[0].arith, "k=11,s=4 (224-11)/4+1=54.25");
    ck_assert_int_eq(l[0].h, 54);
    ck_assert_str_eq(l[3].arith, "k=3,s=2,ceil (54-3)/2+1=26.5");
    ck_assert_int_eq(l[3].exact, 0);
    ck_assert_int_eq(l[3].h, 27);
    ck_assert_int_eq(l[7].h, 13);
    ck_assert_int_eq(l[14].h, 6);
    ck_assert_str_eq(l[15].arith, "out=6x6, identity");
    ck_assert_int_eq(l[16].c, 9216);
    ck_assert_int_eq(an_variant_params("caffe-bvlc-224"), an_variant_params("caffe-bvlc-227"));
    /* at 227 every pool division is exact: caffe-bvlc-227's shapes */
    ck_assert_int_eq(an_variant_infer("caffe-bvlc-224", 3, 227, 227, l, &count), AN_OK);
    ck_assert_int_eq(an_variant_infer("caffe-bvlc-227", 3, 227, 227, m, &n), AN_OK);
    ck_assert_int_eq(count, n);
    for (int i = 0; i < n; i++) {
        ck_assert_int_eq(l[i].c, m[i].c);
        ck_assert_int_eq(l[i].h, m[i].h);
        ck_assert_int_eq(l[i].w, m[i].w);
    }
    /* the two are different networks to the converter */
    ck_assert(!an__variant_same_layers(an__variant_find("caffe-bvlc-224"),
                                       an__variant_find("caffe-bvlc-227")));
    /* 235 x 224: H 57 -> 28 -> 14 -> 7 (floor: 6), W 54 -> 27 -> 13 -> 6 */
    ck_assert_int_eq(an_variant_infer("caffe-bvlc-224", 3, 235, 224, l, &count), AN_OK);
    ck_assert_int_eq(l[0].h, 57);
    ck_assert_int_eq(l[3].h, 28);
    ck_assert_int_eq(l[3].w, 27);
    ck_assert_int_eq(l[7].h, 14);
    ck_assert_int_eq(l[14].h, 7);
    ck_assert_str_eq(l[15].arith, "out=6x6 from 7x6");
}
END_TEST

/* 256x256: the last pool gives 7x7 and the adaptive pool brings it to 6x6. */
START_TEST(test_torchvision_256)
{
    an_layer_info l[AN_MAX_LAYERS];
    int count = 0;
    ck_assert_int_eq(an_variant_infer("torchvision-224", 3, 256, 256, l, &count), AN_OK);
    ck_assert_str_eq(l[0].arith, "k=11,s=4,p=2 (256+4-11)/4+1=63.25");
    ck_assert_int_eq(l[0].h, 63);
    ck_assert_int_eq(l[2].h, 31);
    ck_assert_int_eq(l[5].h, 15);
    ck_assert_int_eq(l[12].c, 256);
    ck_assert_int_eq(l[12].h, 7);
    ck_assert_int_eq(l[12].w, 7);
    ck_assert_str_eq(l[13].arith, "out=6x6 from 7x7");
    ck_assert_int_eq(l[13].h, 6);
    ck_assert_int_eq(l[13].w, 6);
    ck_assert_int_eq(l[14].c, 9216);
    ck_assert_int_eq(l[20].c, 1000);
    /* parameters do not depend on the input size */
    int64_t total = 0;
    for (int i = 0; i < count; i++)
        total += l[i].params;
    ck_assert_int_eq(total, 61100840);
}
END_TEST

/* Non-square input: H and W follow their own arithmetic. */
START_TEST(test_non_square)
{
    an_layer_info l[AN_MAX_LAYERS];
    int count = 0;
    ck_assert_int_eq(an_variant_infer("torchvision-224", 3, 300, 240, l, &count), AN_OK);
    ck_assert_str_eq(l[0].arith, "k=11,s=4,p=2 H (300+4-11)/4+1=74.25, W (240+4-11)/4+1=59.25");
    ck_assert_int_eq(l[0].h, 74);
    ck_assert_int_eq(l[0].w, 59);
    ck_assert_int_eq(l[2].h, 36);
    ck_assert_int_eq(l[2].w, 29);
    ck_assert_int_eq(l[5].h, 17);
    ck_assert_int_eq(l[5].w, 14);
    ck_assert_int_eq(l[12].h, 8);
    ck_assert_int_eq(l[12].w, 6);
    ck_assert_str_eq(l[13].arith, "out=6x6 from 8x6");
    ck_assert_int_eq(l[13].h, 6);
    ck_assert_int_eq(l[13].w, 6);
    ck_assert_int_eq(l[14].c, 9216);

    /* transposed input, transposed shapes */
    ck_assert_int_eq(an_variant_infer("torchvision-224", 3, 240, 300, l, &count), AN_OK);
    ck_assert_int_eq(l[0].h, 59);
    ck_assert_int_eq(l[0].w, 74);
    ck_assert_int_eq(l[12].h, 6);
    ck_assert_int_eq(l[12].w, 8);
}
END_TEST

/* Smallest square size that infers, found by search; checks that it is the
 * documented one and that the size below fails at the last pool. */
static int smallest_size(const char *variant)
{
    an_layer_info l[AN_MAX_LAYERS];
    int count = 0;
    for (int s = 1; s <= 512; s++)
        if (an_variant_infer(variant, 3, s, s, l, &count) == AN_OK)
            return s;
    return -1;
}

START_TEST(test_minimum_size)
{
    an_layer_info l[AN_MAX_LAYERS];
    int count = 0;

    ck_assert_int_eq(smallest_size("torchvision-224"), 63);
    ck_assert_int_eq(an_variant_infer("torchvision-224", 3, 63, 63, l, &count), AN_OK);
    ck_assert_int_eq(l[12].h, 1);
    ck_assert_str_eq(l[13].arith, "out=6x6 from 1x1");
    ck_assert_int_eq(l[14].c, 9216);
    /* every size above works too (monotone) */
    for (int s = 63; s <= 300; s++)
        ck_assert_int_eq(an_variant_infer("torchvision-224", 3, s, s, l, &count), AN_OK);

    ck_assert_int_eq(an_variant_infer("torchvision-224", 3, 62, 62, l, &count), AN_ERR_BAD_SHAPE);
    ck_assert_int_eq(count, 0);
    const char *e = an_last_error();
    ck_assert_msg(strstr(e, "MaxPool2d-13") != NULL, "error text: %s", e);
    ck_assert_msg(strstr(e, "(2-3)/2+1=0.5") != NULL, "error text: %s", e);
    ck_assert_msg(strstr(e, "torchvision-224") != NULL, "error text: %s", e);
    ck_assert_msg(strstr(e, "62") != NULL, "error text: %s", e);

    ck_assert_int_eq(smallest_size("caffe-227"), 67);
    ck_assert_int_eq(an_variant_infer("caffe-227", 3, 66, 66, l, &count), AN_ERR_BAD_SHAPE);
    e = an_last_error();
    ck_assert_msg(strstr(e, "MaxPool2d-13") != NULL, "error text: %s", e);
    ck_assert_msg(strstr(e, "(2-3)/2+1=0.5") != NULL, "error text: %s", e);

    /* one good side does not rescue the other */
    ck_assert_int_eq(an_variant_infer("torchvision-224", 3, 224, 62, l, &count), AN_ERR_BAD_SHAPE);
    ck_assert_int_eq(an_variant_infer("torchvision-224", 3, 62, 224, l, &count), AN_ERR_BAD_SHAPE);

    /* a tiny input fails at the first conv, and the text says so */
    ck_assert_int_eq(an_variant_infer("caffe-227", 3, 8, 8, l, &count), AN_ERR_BAD_SHAPE);
    e = an_last_error();
    ck_assert_msg(strstr(e, "Conv2d-1") != NULL, "error text: %s", e);
    ck_assert_msg(strstr(e, "(8-11)/4+1") != NULL, "error text: %s", e);
}
END_TEST

START_TEST(test_bad_inputs)
{
    an_layer_info l[AN_MAX_LAYERS];
    int count = 7;
    static const int bad_channels[] = {1, 4, 0};
    for (size_t i = 0; i < sizeof bad_channels / sizeof bad_channels[0]; i++) {
        ck_assert_int_eq(an_variant_infer("torchvision-224", bad_channels[i], 224, 224, l, &count),
                         AN_ERR_BAD_SHAPE);
        const char *e = an_last_error();
        ck_assert_msg(strstr(e, "3 input channels") != NULL, "error text: %s", e);
        char not_n[16];
        snprintf(not_n, sizeof not_n, "not %d", bad_channels[i]);
        ck_assert_msg(strstr(e, not_n) != NULL, "error text: %s", e);
    }
    ck_assert_int_eq(an_variant_infer("caffe-227", 4, 227, 227, l, &count), AN_ERR_BAD_SHAPE);
    ck_assert_ptr_nonnull(strstr(an_last_error(), "3 input channels"));

    ck_assert_int_eq(an_variant_infer("caffe-227", 3, 0, 227, l, &count), AN_ERR_BAD_SHAPE);
    ck_assert_int_eq(an_variant_infer("caffe-227", 3, 227, -5, l, &count), AN_ERR_BAD_SHAPE);
    ck_assert_int_eq(an_variant_infer("caffe-227", 3, 227, 227, NULL, &count),
                     AN_ERR_INVALID_ARGUMENT);
    ck_assert_int_eq(an_variant_infer("caffe-227", 3, 227, 227, l, NULL), AN_ERR_INVALID_ARGUMENT);
}
END_TEST

START_TEST(test_unknown_variant)
{
    an_layer_info l[AN_MAX_LAYERS];
    int count = 0, h = 0, w = 0;
    ck_assert_int_eq(an_variant_infer("vgg16", 3, 224, 224, l, &count), AN_ERR_UNKNOWN_VARIANT);
    const char *e = an_last_error();
    ck_assert_msg(strstr(e, "vgg16") != NULL, "error text: %s", e);
    ck_assert_msg(strstr(e, "torchvision-224") != NULL, "error text: %s", e);
    ck_assert_msg(strstr(e, "caffe-227") != NULL, "error text: %s", e);

    ck_assert_int_eq(an_variant_infer(NULL, 3, 224, 224, l, &count), AN_ERR_UNKNOWN_VARIANT);
    ck_assert_int_eq(an_variant_input_size("alexnet", &h, &w), AN_ERR_UNKNOWN_VARIANT);
    ck_assert_int_eq(an_variant_params("Torchvision-224"), -1); /* names are case-sensitive */
    ck_assert_ptr_null(an__variant_find("caffe"));
    ck_assert_ptr_nonnull(strstr(an_last_error(), "caffe-227"));
}
END_TEST

START_TEST(test_variant_names)
{
    const char *const *names = an_variant_names();
    int n = 0;
    while (names[n])
        n++;
    ck_assert_int_eq(n, 5);
    ck_assert_str_eq(names[0], "torchvision-224");
    ck_assert_str_eq(names[1], "caffe-227");
    ck_assert_str_eq(names[2], "caffe-bvlc-227");
    ck_assert_str_eq(names[3], "caffenet-227");
    ck_assert_str_eq(names[4], "caffe-bvlc-224");
    for (int i = 0; i < n; i++) {
        const an__variant *v = an__variant_find(names[i]);
        ck_assert_ptr_nonnull(v);
        ck_assert_str_eq(v->name, names[i]);
        ck_assert_int_eq(v->in_channels, 3);
        ck_assert_int_eq(v->n_layers, i < 2 ? 21 : 23);
        ck_assert_int_gt(an_variant_params(names[i]), 60000000);
    }
}
END_TEST

/* The BVLC reference network: LRN after conv1 and conv2, two groups in conv2,
 * conv4 and conv5, 60,965,224 parameters. */
START_TEST(test_bvlc_table)
{
    an_layer_info l[AN_MAX_LAYERS];
    int count = 0;
    ck_assert_int_eq(an_variant_infer("caffe-bvlc-227", 3, 227, 227, l, &count), AN_OK);
    ck_assert_int_eq(count, 23);
    ck_assert_int_eq(an_variant_params("caffe-bvlc-227"), 60965224);
    static const struct {
        int row, kind, c, hw, groups;
        int64_t params;
    } want[] = {{0, AN_LAYER_CONV, 96, 55, 1, 34944},    {2, AN_LAYER_LRN, 96, 55, 1, 0},
                {4, AN_LAYER_CONV, 256, 27, 2, 307456},  {6, AN_LAYER_LRN, 256, 27, 1, 0},
                {8, AN_LAYER_CONV, 384, 13, 1, 885120},  {10, AN_LAYER_CONV, 384, 13, 2, 663936},
                {12, AN_LAYER_CONV, 256, 13, 2, 442624}, {14, AN_LAYER_MAXPOOL, 256, 6, 1, 0}};
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
        const an_layer_info *r = &l[want[i].row];
        ck_assert_int_eq(r->kind, want[i].kind);
        ck_assert_int_eq(r->c, want[i].c);
        ck_assert_int_eq(r->h, want[i].hw);
        ck_assert_int_eq(r->groups, want[i].groups);
        ck_assert_int_eq(r->params, want[i].params);
    }
    ck_assert_str_eq(l[4].arith, "k=5,s=1,p=2,g=2 (27+4-5)/1+1=27");
    ck_assert_str_eq(l[2].arith, "size=5,alpha=0.0001,beta=0.75,k=1");
    an__param_shape s[AN_MAX_LAYERS];
    const an__variant *v = an__variant_find("caffe-bvlc-227");
    ck_assert_int_eq(an__variant_param_shapes(v, s, AN_MAX_LAYERS), 8);
    ck_assert_int_eq(s[1].dims[1], 48); /* conv2: 96 inputs in two groups */
    ck_assert_int_eq(s[3].dims[1], 192);
    ck_assert_int_eq(s[4].dims[1], 192);
}
END_TEST

/* BVLC's CaffeNet: caffe-bvlc-227's tensors with each pool before its LRN, so
 * the LRNs see 27x27 and 13x13 maps; a different network with the same shapes. */
START_TEST(test_caffenet_table)
{
    an_layer_info l[AN_MAX_LAYERS];
    int count = 0;
    ck_assert_int_eq(an_variant_infer("caffenet-227", 3, 227, 227, l, &count), AN_OK);
    ck_assert_int_eq(count, 23);
    ck_assert_int_eq(an_variant_params("caffenet-227"), 60965224);
    static const struct {
        int row, kind, c, hw;
    } want[] = {{0, AN_LAYER_CONV, 96, 55},     {2, AN_LAYER_MAXPOOL, 96, 27},
                {3, AN_LAYER_LRN, 96, 27},      {4, AN_LAYER_CONV, 256, 27},
                {6, AN_LAYER_MAXPOOL, 256, 13}, {7, AN_LAYER_LRN, 256, 13},
                {14, AN_LAYER_MAXPOOL, 256, 6}};
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
        const an_layer_info *r = &l[want[i].row];
        ck_assert_int_eq(r->kind, want[i].kind);
        ck_assert_int_eq(r->c, want[i].c);
        ck_assert_int_eq(r->h, want[i].hw);
    }
    const an__variant *a = an__variant_find("caffenet-227"),
                      *b = an__variant_find("caffe-bvlc-227");
    an__param_shape sa[AN_MAX_LAYERS], sb[AN_MAX_LAYERS];
    ck_assert_int_eq(an__variant_param_shapes(a, sa, AN_MAX_LAYERS), 8);
    ck_assert_int_eq(an__variant_param_shapes(b, sb, AN_MAX_LAYERS), 8);
    for (int i = 0; i < 8; i++)
        ck_assert_mem_eq(sa[i].dims, sb[i].dims, sizeof sa[i].dims);
    ck_assert(!an__variant_same_layers(a, b));
    ck_assert(an__variant_same_layers(a, a));
}
END_TEST

START_TEST(test_param_shapes)
{
    static const int want[8][4] = {
        {64, 3, 11, 11},  {192, 64, 5, 5},    {384, 192, 3, 3},   {256, 384, 3, 3},
        {256, 256, 3, 3}, {4096, 9216, 1, 1}, {4096, 4096, 1, 1}, {1000, 4096, 1, 1},
    };
    static const int want_layer[8] = {0, 3, 6, 8, 10, 15, 18, 20};
    const an__variant *v = an__variant_find("torchvision-224");
    ck_assert_ptr_nonnull(v);
    an__param_shape s[AN_MAX_LAYERS];
    ck_assert_int_eq(an__variant_param_shapes(v, s, AN_MAX_LAYERS), 8);
    for (int i = 0; i < 8; i++) {
        for (int d = 0; d < 4; d++)
            ck_assert_msg(s[i].dims[d] == want[i][d], "param %d dim %d: %d, want %d", i, d,
                          s[i].dims[d], want[i][d]);
        ck_assert_int_eq(s[i].layer, want_layer[i]);
        ck_assert_int_eq(s[i].ndim, i < 5 ? 4 : 2);
        ck_assert_ptr_nonnull(v->layers[s[i].layer].weight_name);
        ck_assert_ptr_nonnull(v->layers[s[i].layer].bias_name);
    }
    ck_assert_str_eq(v->layers[s[0].layer].weight_name, "features.0.weight");
    ck_assert_str_eq(v->layers[s[7].layer].bias_name, "classifier.6.bias");

    const an__variant *c = an__variant_find("caffe-227");
    ck_assert_ptr_nonnull(c);
    ck_assert_int_eq(an__variant_param_shapes(c, s, AN_MAX_LAYERS), 8);
    ck_assert_int_eq(s[0].dims[0], 96);
    ck_assert_int_eq(s[1].dims[1], 96);
    ck_assert_int_eq(s[1].dims[0], 256);
    ck_assert_int_eq(s[3].dims[1], 384);
    ck_assert_int_eq(s[5].dims[1], 9216);
    ck_assert_str_eq(c->layers[s[5].layer].weight_name, "fc6.weight");

    /* a short output array gets the first rows; the count is still the total */
    an__param_shape few[3];
    ck_assert_int_eq(an__variant_param_shapes(v, few, 3), 8);
    ck_assert_int_eq(few[2].dims[0], 384);
    ck_assert_int_eq(few[2].layer, 6);
}
END_TEST

START_TEST(test_status_names)
{
    ck_assert_str_eq(an_status_name(AN_OK), "AN_OK");
    ck_assert_str_eq(an_status_message(AN_OK), "success");
    ck_assert_str_eq(an_status_name(AN_ERR_BAD_WEIGHTS), "AN_ERR_BAD_WEIGHTS");
    ck_assert_str_eq(an_status_message(AN_ERR_BAD_WEIGHTS), "weights file rejected");
    ck_assert_str_eq(an_status_name(AN_ERR_BAD_SHAPE), "AN_ERR_BAD_SHAPE");
    ck_assert_str_eq(an_status_name(AN_ERR_BAD_IMAGE), "AN_ERR_BAD_IMAGE");
    ck_assert_str_eq(an_status_message(AN_ERR_DEVICE_NOT_FOUND), "no device matches the selector");
    ck_assert_int_eq(AN_ERR_UNKNOWN_VARIANT, -4005);

    /* OpenCL codes pass through with their own names */
    ck_assert_str_eq(an_status_name(-5), "CL_OUT_OF_RESOURCES");
    ck_assert_str_eq(an_status_name(CL_OUT_OF_RESOURCES), "CL_OUT_OF_RESOURCES");
    ck_assert_str_eq(an_status_name(CL_BUILD_PROGRAM_FAILURE), "CL_BUILD_PROGRAM_FAILURE");
    ck_assert_str_eq(an_status_name(-30), "CL_INVALID_VALUE");
    ck_assert_str_eq(an_status_name(CL_INVALID_WORK_GROUP_SIZE), "CL_INVALID_WORK_GROUP_SIZE");
    ck_assert_str_eq(an_status_message(-5), "OpenCL error");
    ck_assert_str_eq(an__cl_error_name(CL_MEM_OBJECT_ALLOCATION_FAILURE),
                     "CL_MEM_OBJECT_ALLOCATION_FAILURE");
    ck_assert_ptr_null(an__cl_error_name(CL_SUCCESS));

    /* the runtime's own codes sit apart from OpenCL's extension codes */
    ck_assert_str_eq(an_status_name(-1001), "CL_PLATFORM_NOT_FOUND_KHR");
    ck_assert_str_eq(an_status_name(AN_ERR_OUT_OF_MEMORY), "AN_ERR_OUT_OF_MEMORY");
    ck_assert_int_le(AN_ERR_INVALID_ARGUMENT, -4000);

    /* unknown codes still give text */
    static const int unknown[] = {12345, -999, -73, -2000, 1};
    for (size_t i = 0; i < sizeof unknown / sizeof unknown[0]; i++) {
        ck_assert_str_eq(an_status_name(unknown[i]), "UNKNOWN_STATUS");
        ck_assert_str_eq(an_status_message(unknown[i]), "unknown status");
    }
}
END_TEST

START_TEST(test_last_error)
{
    ck_assert_int_eq(an__fail(AN_ERR_IO, "reading %s: %d", "x.bin", 42), AN_ERR_IO);
    ck_assert_str_eq(an_last_error(), "reading x.bin: 42");
    ck_assert_int_eq(
        an__cl_fail(CL_INVALID_KERNEL_ARGS, "clEnqueueNDRangeKernel(q, k)", "/a/b/plan.c", 77),
        CL_INVALID_KERNEL_ARGS);
    ck_assert_str_eq(an_last_error(), "clEnqueueNDRangeKernel(q, k) failed: "
                                      "CL_INVALID_KERNEL_ARGS (-52) at plan.c:77");
    /* a long call text is cut with "..." */
    char call[300];
    memset(call, 'x', sizeof call - 1);
    call[sizeof call - 1] = '\0';
    an__cl_fail(CL_INVALID_VALUE, call, "f.c", 1);
    const char *e = an_last_error();
    ck_assert_ptr_nonnull(strstr(e, "xxx... failed: CL_INVALID_VALUE (-30)"));
    ck_assert_int_lt(strlen(e), 200);
}
END_TEST

/* The rule: a failing call leaves its detail, the next call that succeeds
 * leaves "" (never an older failure's text). */
START_TEST(test_last_error_cleared)
{
    int h = 0, w = 0;
    ck_assert_int_eq(an_variant_input_size("no-such-variant", &h, &w), AN_ERR_UNKNOWN_VARIANT);
    ck_assert_ptr_nonnull(strstr(an_last_error(), "no-such-variant"));
    ck_assert_int_eq(an_variant_input_size("torchvision-224", &h, &w), AN_OK);
    ck_assert_str_eq(an_last_error(), "");
    an_layer_info layers[AN_MAX_LAYERS];
    int n = 0;
    ck_assert_int_ne(an_variant_infer("caffe-227", 3, 8, 8, layers, &n), AN_OK);
    ck_assert_str_ne(an_last_error(), "");
    an_preprocess pp;
    ck_assert_int_eq(an_preprocess_default("caffe-227", &pp), AN_OK);
    ck_assert_str_eq(an_last_error(), "");
}
END_TEST

/* The variant table is the one description: every listed name has an input
 * size and a preprocessing whose crop is that size, and the unknown-variant
 * message names them all. */
START_TEST(test_variant_table_single_place)
{
    const char *const *names = an_variant_names();
    int n = 0;
    for (; names[n]; n++) {
        int h = 0, w = 0;
        an_preprocess pp;
        ck_assert_int_eq(an_variant_input_size(names[n], &h, &w), AN_OK);
        ck_assert_int_eq(an_preprocess_default(names[n], &pp), AN_OK);
        ck_assert_int_eq(pp.crop, h);
        ck_assert_int_eq(pp.bgr, strncmp(names[n], "caffe", 5) == 0);
    }
    ck_assert_int_eq(n, 5);
    an_preprocess pp;
    ck_assert_int_eq(an_preprocess_default("nope", &pp), AN_ERR_UNKNOWN_VARIANT);
    for (int i = 0; i < n; i++)
        ck_assert_ptr_nonnull(strstr(an_last_error(), names[i]));
}
END_TEST

static Suite *variant_suite(void)
{
    Suite *s = suite_create("variant");
    TCase *tc = tcase_create("shapes");
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, test_torchvision_native);
    tcase_add_test(tc, test_caffe_native);
    tcase_add_test(tc, test_layer_fields);
    tcase_add_test(tc, test_arith_native);
    tcase_add_test(tc, test_caffe_at_224);
    tcase_add_test(tc, test_bvlc_224_ceil);
    tcase_add_test(tc, test_torchvision_256);
    tcase_add_test(tc, test_non_square);
    tcase_add_test(tc, test_minimum_size);
    tcase_add_test(tc, test_bad_inputs);
    tcase_add_test(tc, test_unknown_variant);
    tcase_add_test(tc, test_variant_names);
    tcase_add_test(tc, test_bvlc_table);
    tcase_add_test(tc, test_caffenet_table);
    tcase_add_test(tc, test_param_shapes);
    tcase_add_test(tc, test_variant_table_single_place);
    suite_add_tcase(s, tc);
    TCase *st = tcase_create("status");
    tcase_set_timeout(st, 300);
    tcase_add_test(st, test_status_names);
    tcase_add_test(st, test_last_error);
    tcase_add_test(st, test_last_error_cleared);
    suite_add_tcase(s, st);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(variant_suite());
    srunner_run_all(sr, CK_ENV);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed > 0 ? EXIT_FAILURE : EXIT_SUCCESS;
}
