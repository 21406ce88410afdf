/* test_eval.c - accuracy against ground truth (runtime/eval.c, `alexnet
 * eval`): tests/reference/eval_ref.py writes a tiny ImageFolder (JPEG and PNG,
 * a subfolder, a broken file), a val.txt for the same images, seeded weights,
 * and the top-1/top-5 counts PyTorch gets on them in float64; the library and
 * the command must count the same, classifying or merging `classify --json`
 * shards. Also the sets' readers and the merge on bad input. */
#include <check.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "alexnet.h"

static char dir[] = "/tmp/an_eval_ref_XXXXXX";
static int skipped;           /* python3 lacks torch: nothing to compare with */
static json_object *expected; /* expected.json */

static void make_reference(void)
{
    if (expected || skipped)
        return;
    const char *root = getenv("AN_SOURCE_ROOT");
    ck_assert_msg(root != NULL, "AN_SOURCE_ROOT is not set");
    ck_assert_ptr_nonnull(mkdtemp(dir));
    char cmd[8192];
    snprintf(cmd, sizeof cmd, "/usr/bin/python3 '%s/tests/reference/eval_ref.py' '%s'", root, dir);
    int rc = system(cmd);
    if (rc != -1 && WIFEXITED(rc) && WEXITSTATUS(rc) == 77) {
        fprintf(stderr, "# skipped: python3 lacks torch/torchvision\n");
        skipped = 1;
        return;
    }
    ck_assert_msg(rc != -1 && WIFEXITED(rc) && WEXITSTATUS(rc) == 0, "%s failed (%d)", cmd, rc);
    char path[4096];
    snprintf(path, sizeof path, "%s/expected.json", dir);
    expected = json_object_from_file(path);
    ck_assert_ptr_nonnull(expected);
}

static long want(const char *set, const char *key)
{
    json_object *s, *v;
    ck_assert(json_object_object_get_ex(expected, set, &s));
    ck_assert(json_object_object_get_ex(s, key, &v));
    return (long)json_object_get_int64(v);
}

static int count_ranks(const an_result *r, int label, int rank, void *user)
{
    long *n = user; /* [0]: results, [1]: rank 0, [2]: ranks 0..4, [3]: failed with rank -1 */
    n[0]++;
    n[1] += rank == 0;
    n[2] += rank >= 0;
    n[3] += r->status != AN_OK && rank == -1;
    ck_assert_int_ge(label, 0);
    ck_assert(rank < 0 || (r->k >= 5 && r->top[rank].index == label));
    return 0;
}

START_TEST(test_library)
{
    make_reference();
    if (skipped)
        return;
    an_device *dev = NULL;
    an_model *model = NULL;
    char path[4096];
    ck_assert_int_eq(an_device_open(NULL, &dev), AN_OK);
    snprintf(path, sizeof path, "%s/weights.safetensors", dir);
    ck_assert_msg(an_model_load(dev, "torchvision-224", path, &model) == AN_OK, "%s",
                  an_last_error());

    for (int pass = 0; pass < 2; pass++) {
        const char *set_name = pass ? "list" : "folder";
        an_labelled set;
        if (pass) {
            snprintf(path, sizeof path, "%s/val.txt", dir);
            ck_assert_msg(an_labelled_list(path, NULL, &set) == AN_OK, "%s", an_last_error());
            ck_assert_ptr_null(set.class_names);
        } else {
            snprintf(path, sizeof path, "%s/folder", dir);
            ck_assert_msg(an_labelled_folder(path, &set) == AN_OK, "%s", an_last_error());
            ck_assert_str_eq(set.class_names[0], "apple");
            ck_assert_str_eq(set.class_names[2], "cherry");
            /* sorted(os.walk()) then sorted names: banana/broken.jpg before img0 */
            ck_assert_msg(strstr(set.paths[3], "/banana/broken.jpg"), "%s", set.paths[3]);
            ck_assert_int_eq(set.labels[3], 1);
            ck_assert_msg(strstr(set.paths[2], "/apple/more/img2.jpg"), "%s", set.paths[2]);
        }
        ck_assert_uint_eq(set.count, (size_t)want(set_name, "images"));
        ck_assert_int_eq(set.classes, (int)want(set_name, "classes"));
        an_classify_options o = {4, 1, 2, NULL}; /* top_k 1 is raised to 5 */
        an_eval_stats st;
        long n[4] = {0};
        ck_assert_msg(an_eval(model, &set, &o, count_ranks, n, &st) == AN_OK, "%s",
                      an_last_error());
        ck_assert_uint_eq(st.images, set.count);
        ck_assert_uint_eq(st.failed, (size_t)want(set_name, "failed"));
        ck_assert_uint_eq(st.classified, st.images - st.failed);
        ck_assert_msg(st.top1 == (size_t)want(set_name, "top1") &&
                          st.top5 == (size_t)want(set_name, "top5"),
                      "%s: top-1 %zu top-5 %zu, PyTorch %ld %ld", set_name, st.top1, st.top5,
                      want(set_name, "top1"), want(set_name, "top5"));
        ck_assert_int_eq(n[0], (long)st.images);
        ck_assert_int_eq(n[1], (long)st.top1);
        ck_assert_int_eq(n[2], (long)st.top5);
        ck_assert_int_eq(n[3], (long)st.failed);
        an_labelled_free(&set);
        ck_assert_ptr_null(set.paths);
    }
    an_model_free(model);
    an_device_free(dev);
}
END_TEST

static int run_capture(const char *cmd, char **out)
{
    FILE *p = popen(cmd, "r");
    ck_assert_ptr_nonnull(p);
    size_t cap = 1 << 16, len = 0, n;
    char *buf = malloc(cap);
    while ((n = fread(buf + len, 1, cap - len - 1, p)) > 0) {
        len += n;
        if (cap - len < 4096)
            buf = realloc(buf, cap *= 2);
    }
    buf[len] = '\0';
    *out = buf;
    int rc = pclose(p);
    return WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
}

START_TEST(test_cli)
{
    make_reference();
    if (skipped)
        return;
    const char *args[] = {"folder", "--ground-truth val.txt"};
    const char *sets[] = {"folder", "list"};
    for (int i = 0; i < 2; i++) {
        char cmd[8192], *out = NULL;
        snprintf(cmd, sizeof cmd,
                 "cd '%s' && timeout 300 '%s/apps/alexnet' eval --json --batch 3 "
                 "--weights weights.safetensors %s",
                 dir, getenv("AN_BUILD_ROOT"), args[i]);
        int rc = run_capture(cmd, &out);
        ck_assert_msg(rc == 1, "%s: status %d (1: an image failed)", args[i], rc);
        json_object *o = json_tokener_parse(out), *v;
        ck_assert_msg(o != NULL, "not JSON: %s", out);
        const char *keys[] = {"images", "failed", "top1", "top5", "classes"};
        for (int k = 0; k < 5; k++) {
            ck_assert_msg(json_object_object_get_ex(o, keys[k], &v), "%s: no %s", out, keys[k]);
            ck_assert_msg(json_object_get_int64(v) == want(sets[i], keys[k]), "%s: %s is %ld", out,
                          keys[k], want(sets[i], keys[k]));
        }
        ck_assert(json_object_object_get_ex(o, "failures", &v));
        ck_assert_int_eq((int)json_object_array_length(v), 1);
        ck_assert_msg(strstr(json_object_to_json_string(v), "broken.jpg"), "%s", out);
        json_object_put(o);
        free(out);
    }
    /* the table names the numbers */
    char cmd[8192], *out = NULL;
    snprintf(cmd, sizeof cmd,
             "cd '%s' && '%s/apps/alexnet' eval --weights weights.safetensors folder 2>&1", dir,
             getenv("AN_BUILD_ROOT"));
    ck_assert_int_eq(run_capture(cmd, &out), 1);
    char line[128];
    snprintf(line, sizeof line, "(%ld of %ld;", want("folder", "top5"), want("folder", "images"));
    ck_assert_msg(strstr(out, "top-5") && strstr(out, line) && strstr(out, "truncated JPEG"), "%s",
                  out);
    free(out);
}
END_TEST

static void write_text(const char *path, const char *text);

/* `classify --json` on two shards of val.txt's images (one of them given by
 * absolute paths), merged: the same counts as classifying them here; then a
 * shard missing, a duplicate, a stranger and too few classes. */
START_TEST(test_merge)
{
    make_reference();
    if (skipped)
        return;
    char cmd[8192], *out = NULL, p[4096];
    snprintf(cmd, sizeof cmd,
             "cd '%s' && awk 'NR<=5{print $1}' val.txt > s1.txt && "
             "awk 'NR>5{print ENVIRON[\"PWD\"] \"/\" $1}' val.txt > s2.txt && "
             "'%s/apps/alexnet' classify --json --weights weights.safetensors @s1.txt > r1.jsonl "
             "2>/dev/null; '%s/apps/alexnet' classify --json --weights weights.safetensors "
             "@s2.txt > r2.jsonl 2>/dev/null; wc -l < r2.jsonl",
             dir, getenv("AN_BUILD_ROOT"), getenv("AN_BUILD_ROOT"));
    ck_assert_int_eq(run_capture(cmd, &out), 0);
    ck_assert_int_eq(atoi(out), 5);
    free(out);

    an_labelled set;
    snprintf(p, sizeof p, "%s/val.txt", dir);
    ck_assert_int_eq(an_labelled_list(p, NULL, &set), AN_OK);
    char r1[4200], r2[4200], r3[4200];
    snprintf(r1, sizeof r1, "%s/r1.jsonl", dir);
    snprintf(r2, sizeof r2, "%s/r2.jsonl", dir);
    snprintf(r3, sizeof r3, "%s/r3.jsonl", dir);
    const char *both[] = {r1, r2}, *twice[] = {r2, r2};
    an_eval_stats st;
    long n[4] = {0};
    ck_assert_msg(an_eval_merge(&set, both, 2, count_ranks, n, &st) == AN_OK, "%s",
                  an_last_error());
    ck_assert_uint_eq(st.images, (size_t)want("list", "images"));
    ck_assert_uint_eq(st.failed, (size_t)want("list", "failed"));
    ck_assert_uint_eq(st.top1, (size_t)want("list", "top1"));
    ck_assert_uint_eq(st.top5, (size_t)want("list", "top5"));
    ck_assert_uint_eq(st.missing, 0);
    /* one shard: the other's five images are missing, reported to the callback */
    memset(n, 0, sizeof n);
    ck_assert_int_eq(an_eval_merge(&set, both, 1, count_ranks, n, &st), AN_OK);
    ck_assert_uint_eq(st.images, 5);
    ck_assert_uint_eq(st.missing, 5);
    ck_assert_int_eq(n[0], 10);
    /* the same shard twice */
    ck_assert_int_eq(an_eval_merge(&set, twice, 2, NULL, NULL, &st), AN_ERR_BAD_FILE);
    ck_assert_msg(strstr(an_last_error(), "has a result already") && strstr(an_last_error(), r2),
                  "%s", an_last_error());
    /* a path of no image of the set; too few classes; not classify's JSON */
    const char *lines[] = {"{\"path\":\"elsewhere/img9.jpg\",\"top\":[]}\n",
                           ("{\"path\":\"apple/img0.jpg\",\"top\":[{\"label\":\"x\","
                            "\"index\":999,\"probability\":0.5}]}\n"),
                           "not json\n"};
    const char *says[] = {"matches no single image", "top-5 needs 5", "line 1 is not"};
    for (int i = 0; i < 3; i++) {
        write_text(r3, lines[i]);
        const char *one[] = {r3};
        ck_assert_int_eq(an_eval_merge(&set, one, 1, NULL, NULL, &st), AN_ERR_BAD_FILE);
        ck_assert_msg(strstr(an_last_error(), says[i]) && strstr(an_last_error(), r3), "%s",
                      an_last_error());
    }
    an_labelled_free(&set);

    /* the command: the same numbers as JSON */
    snprintf(cmd, sizeof cmd,
             "cd '%s' && '%s/apps/alexnet' eval --json --ground-truth val.txt --results r1.jsonl "
             "--results r2.jsonl",
             dir, getenv("AN_BUILD_ROOT"));
    ck_assert_int_eq(run_capture(cmd, &out), 1);
    json_object *o = json_tokener_parse(out), *v;
    ck_assert_msg(o != NULL, "not JSON: %s", out);
    const char *keys[] = {"images", "failed", "top1", "top5"};
    for (int k = 0; k < 4; k++) {
        ck_assert(json_object_object_get_ex(o, keys[k], &v));
        ck_assert_msg(json_object_get_int64(v) == want("list", keys[k]), "%s: %s", out, keys[k]);
    }
    json_object_put(o);
    free(out);
}
END_TEST

static void write_text(const char *path, const char *text)
{
    FILE *f = fopen(path, "wb");
    ck_assert_ptr_nonnull(f);
    fputs(text, f);
    fclose(f);
}

/* The readers' refusals name the line or the folder and say why. */
/* Class folders named by ImageNet wnids take ImageNet's indices (a subset
 * too); one folder with another name makes the whole set ImageFolder's 0..n-1. */
START_TEST(test_wnid_folders)
{
    char d[] = "/tmp/an_eval_wnid_XXXXXX", p[512];
    ck_assert_ptr_nonnull(mkdtemp(d));
    const char *names[] = {"n15075141", "n01484850", "n02123045"}; /* 999, 2, 281 */
    for (int i = 0; i < 3; i++) {
        snprintf(p, sizeof p, "%s/%s", d, names[i]);
        ck_assert_int_eq(mkdir(p, 0755), 0);
        snprintf(p, sizeof p, "%s/%s/x.png", d, names[i]);
        write_text(p, "not decoded here");
    }
    an_labelled set;
    ck_assert_msg(an_labelled_folder(d, &set) == AN_OK, "%s", an_last_error());
    ck_assert_uint_eq(set.count, 3);
    ck_assert_int_eq(set.labels[0], 2); /* sorted: n01484850, n02123045, n15075141 */
    ck_assert_int_eq(set.labels[1], 281);
    ck_assert_int_eq(set.labels[2], 999);
    ck_assert_str_eq(set.class_names[0], "n01484850");
    an_labelled_free(&set);
    snprintf(p, sizeof p, "%s/n99999999", d); /* wnid-shaped, but not ImageNet-1k's */
    ck_assert_int_eq(mkdir(p, 0755), 0);
    snprintf(p, sizeof p, "%s/n99999999/y.png", d);
    write_text(p, "not decoded here");
    ck_assert_msg(an_labelled_folder(d, &set) == AN_OK, "%s", an_last_error());
    ck_assert_int_eq(set.labels[0], 0);
    ck_assert_int_eq(set.labels[2], 2);
    ck_assert_int_eq(set.labels[3], 3);
    an_labelled_free(&set);
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", d);
    ck_assert_int_eq(system(cmd), 0);
}
END_TEST

START_TEST(test_bad_sets)
{
    char d[] = "/tmp/an_eval_bad_XXXXXX", p[512];
    ck_assert_ptr_nonnull(mkdtemp(d));
    an_labelled set;
    const struct {
        const char *text, *says;
    } bad[] = {
        {"a.jpg 1\nb.jpg\n", "line 2"},
        {"a.jpg 1\nb.jpg 1000\n", "not a class index"},
        {"a.jpg 1\nb.jpg -1\n", "line 2"},
        {"a.jpg 1\nb.jpg 3x\n", "line 2"},
        {"a.jpg 1\n\nb.jpg 2\na.jpg 3\n", "listed twice (entries 1 and 3"},
        {"\n\n", "no 'PATH LABEL' line"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        snprintf(p, sizeof p, "%s/val.txt", d);
        write_text(p, bad[i].text);
        ck_assert_int_eq(an_labelled_list(p, NULL, &set), AN_ERR_BAD_FILE);
        ck_assert_msg(strstr(an_last_error(), bad[i].says) && strstr(an_last_error(), p),
                      "case %zu: %s", i, an_last_error());
        ck_assert_ptr_null(set.paths);
    }
    /* good: CRLF, a BOM, a path with a space, an absolute path, --root */
    write_text(p, "\xef\xbb\xbf"
                  "x/a b.jpg  7\r\n/abs/c.png 0\r\n");
    ck_assert_int_eq(an_labelled_list(p, "/data", &set), AN_OK);
    ck_assert_uint_eq(set.count, 2);
    ck_assert_str_eq(set.paths[0], "/data/x/a b.jpg");
    ck_assert_int_eq(set.labels[0], 7);
    ck_assert_str_eq(set.paths[1], "/abs/c.png");
    ck_assert_int_eq(set.classes, 8);
    an_labelled_free(&set);
    ck_assert_int_eq(an_labelled_list("/nonexistent/val.txt", NULL, &set), AN_ERR_IO);

    /* folders: no class folder; an empty class (ImageFolder refuses it too) */
    snprintf(p, sizeof p, "%s/img", d);
    ck_assert_int_eq(mkdir(p, 0755), 0);
    ck_assert_int_eq(an_labelled_folder(p, &set), AN_ERR_INVALID_ARGUMENT);
    ck_assert_msg(strstr(an_last_error(), "no class folder"), "%s", an_last_error());
    snprintf(p, sizeof p, "%s/img/a", d);
    ck_assert_int_eq(mkdir(p, 0755), 0);
    snprintf(p, sizeof p, "%s/img/a/x.JPEG", d);
    write_text(p, "");
    snprintf(p, sizeof p, "%s/img/b", d);
    ck_assert_int_eq(mkdir(p, 0755), 0);
    snprintf(p, sizeof p, "%s/img/b/notes.txt", d);
    write_text(p, "");
    snprintf(p, sizeof p, "%s/img", d);
    ck_assert_int_eq(an_labelled_folder(p, &set), AN_ERR_INVALID_ARGUMENT);
    ck_assert_msg(strstr(an_last_error(), "'b' holds no image"), "%s", an_last_error());
    snprintf(p, sizeof p, "%s/img/b/y.bmp", d); /* listed as ImageFolder lists it */
    write_text(p, "");
    snprintf(p, sizeof p, "%s/img/b/loop", d); /* a link to itself is walked once */
    ck_assert_int_eq(symlink(".", p), 0);
    snprintf(p, sizeof p, "%s/img", d);
    ck_assert_msg(an_labelled_folder(p, &set) == AN_OK, "%s", an_last_error());
    ck_assert_uint_eq(set.count, 2);
    ck_assert_int_eq(set.labels[0], 0);
    ck_assert_int_eq(set.labels[1], 1);
    an_labelled_free(&set);
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", d);
    ck_assert_int_eq(system(cmd), 0);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("eval");
    TCase *tc = tcase_create("eval");
    tcase_set_timeout(tc, 600);
    tcase_add_test(tc, test_bad_sets);
    tcase_add_test(tc, test_wnid_folders);
    tcase_add_test(tc, test_library);
    tcase_add_test(tc, test_cli);
    tcase_add_test(tc, test_merge);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_ENV);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    if (expected)
        json_object_put(expected);
    if (dir[strlen(dir) - 1] != 'X') {
        char cmd[300];
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
        if (system(cmd) != 0)
            fprintf(stderr, "could not remove %s\n", dir);
    }
    return failed ? 1 : 0;
}
