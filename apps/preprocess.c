/* preprocess.c - the preprocessing options that `alexnet classify` and
 * `alexnet eval` share (--resize, --crop, --mean, --scale, --std, --bgr,
 * --rgb): gathered into an_preprocess_parse's spec, checked before any device
 * is opened, then laid over the model's own pipeline (its weights file's, or
 * its variant's) and announced on stderr. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "apps.h"

int app_pp_option(app_pp *p, const char *cmd, int c, const char *arg)
{
    static const char *const keys[] = {"resize", "crop", "mean", "std", "scale"};
    size_t used = strlen(p->spec), named = strlen(p->given);
    int n = 0;
    if (c >= APP_PP_RESIZE && c <= APP_PP_SCALE) {
        const char *key = keys[c - APP_PP_RESIZE];
        if (strchr(arg, ';') || strchr(arg, '=')) {
            fprintf(stderr, "alexnet %s: bad --%s '%s'\n", cmd, key, arg);
            return -1;
        }
        n = snprintf(p->spec + used, sizeof p->spec - used, "%s=%s;", key, arg);
        snprintf(p->given + named, sizeof p->given - named, "%s--%s", named ? " " : "", key);
        if (c == APP_PP_MEAN) { /* 0..1 values where 0..255 are meant: say so */
            double m[3];
            p->mean_looks_unit = sscanf(arg, "%lf%*[, ]%lf%*[, ]%lf", &m[0], &m[1], &m[2]) == 3 &&
                                 m[0] <= 1.0 && m[1] <= 1.0 && m[2] <= 1.0 &&
                                 (m[0] > 0.0 || m[1] > 0.0 || m[2] > 0.0);
        }
    } else if (c == APP_PP_BGR || c == APP_PP_RGB) {
        if (p->order && p->order != c) {
            fprintf(stderr, "alexnet %s: give one of --bgr and --rgb\n", cmd);
            return -1;
        }
        p->order = c;
        n = snprintf(p->spec + used, sizeof p->spec - used, "order=%s;",
                     c == APP_PP_BGR ? "bgr" : "rgb");
        snprintf(p->given + named, sizeof p->given - named, "%s--%s", named ? " " : "",
                 c == APP_PP_BGR ? "bgr" : "rgb");
    } else {
        return 0;
    }
    if (n < 0 || (size_t)n >= sizeof p->spec - used) {
        fprintf(stderr, "alexnet %s: preprocessing options too long\n", cmd);
        return -1;
    }
    return 1;
}

/* The options over base, checked; the crop also against the variant's layers. */
static int apply(const app_pp *p, const char *cmd, const char *variant, an_preprocess *pp)
{
    if (p->spec[0] && an_preprocess_parse(p->spec, pp) != AN_OK) {
        fprintf(stderr, "alexnet %s: %s\n", cmd, an_last_error());
        return -1;
    }
    an_layer_info layers[AN_MAX_LAYERS];
    int n;
    if (an_variant_infer(variant, 3, pp->crop, pp->crop, layers, &n) != AN_OK) {
        fprintf(stderr, "alexnet %s: preprocessing crop %d does not fit %s: %s\n", cmd, pp->crop,
                variant, an_last_error());
        return -1;
    }
    return 0;
}

int app_pp_check(const app_pp *p, const char *cmd, const char *variant)
{
    an_preprocess pp;
    if (an_preprocess_default(variant, &pp) != AN_OK)
        return 0; /* an unknown variant is reported where the model is loaded */
    if (p->mean_looks_unit)
        fprintf(stderr,
                "alexnet %s: warning: --mean is in 0..255 pixel units, subtracted before "
                "--scale (OpenCV's convention); values of 1 or less look like a 0..1 mean "
                "(torchvision's 0.485,0.456,0.406 is 123.675,116.28,103.53)\n",
                cmd);
    return apply(p, cmd, variant, &pp);
}

int app_pp_resolve(const app_pp *p, const char *cmd, const an_model *model, an_preprocess *out)
{
    int from_file = an_model_preprocess(model, out);
    if (apply(p, cmd, an_model_variant(model), out) != 0)
        return -1;
    char text[512];
    an_preprocess_format(out, text, sizeof text);
    fprintf(stderr, "alexnet: preprocessing %s (%s%s%s)\n", text,
            from_file ? "the weights file's" : "the variant's default",
            p->given[0] ? ", with " : "", p->given);
    return 0;
}
