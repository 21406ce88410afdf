/* convert.c - `alexnet convert [--variant NAME] IN OUT.safetensors`: a
 * published weights file (PyTorch .pth, Caffe .caffemodel) to this runtime's
 * safetensors. */
#include <stdio.h>
#include <string.h>

#include "alexnet.h"
#include "apps.h"

int cmd_convert(int argc, char **argv);

static void convert_usage(FILE *f)
{
    fprintf(f,
            "usage: alexnet convert [--variant NAME] IN OUT.safetensors\n"
            "\n"
            "IN is a PyTorch .pth holding a state_dict (torch.save, zip or legacy format,\n"
            "float32 or float16), or a checkpoint holding one under state_dict,\n"
            "model_state_dict, model or net, a Caffe .caffemodel (current or V1 layers),\n"
            "or an ONNX model of torchvision's AlexNet (torch.onnx.export) or the ONNX\n"
            "model zoo's bvlcalexnet (opsets 3 to 12: variant caffe-bvlc-224).\n"
            "A .caffemodel's layer list chooses the variant (a network that is none of them\n"
            "is refused, naming the first layer that differs); a .pth's tensor names and\n"
            "shapes choose it where only one network fits, else --variant must name it\n"
            "(caffe-bvlc-227, caffenet-227 and caffe-bvlc-224 have the same tensors).\n"
            "Nothing in IN is executed. OUT loads with --weights OUT --variant VARIANT.\n"
            "variants: %s\n",
            app_variant_list(", "));
}

int cmd_convert(int argc, char **argv)
{
    if (argc == 3 && (strcmp(argv[2], "-h") == 0 || strcmp(argv[2], "--help") == 0)) {
        convert_usage(stdout);
        return 0;
    }
    const char *variant = NULL;
    if (argc == 6 && strcmp(argv[2], "--variant") == 0) {
        variant = argv[3];
        argv += 2;
        argc -= 2;
    }
    if (argc != 4 || argv[2][0] == '-' || argv[3][0] == '-') {
        convert_usage(stderr);
        return APP_EXIT_USAGE;
    }
    an_convert_info info;
    int status = an_convert_variant(argv[2], argv[3], variant, &info);
    if (status == AN_ERR_UNKNOWN_VARIANT) {
        fprintf(stderr, "alexnet: convert: %s\n", an_last_error());
        return APP_EXIT_USAGE;
    }
    if (status != AN_OK) {
        fprintf(stderr, "alexnet: convert: %s (%s)\n", an_last_error(), an_status_name(status));
        return status == AN_ERR_IO ? APP_EXIT_USAGE : 1;
    }
    if (info.source_key[0])
        printf("%s: a checkpoint: the weights are its '%s'\n", argv[2], info.source_key);
    printf("%s: variant %s, %lld parameters -> %s\n", argv[2], info.variant,
           (long long)an_variant_params(info.variant), argv[3]);
    return 0;
}
