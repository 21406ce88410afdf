// clblast_tune.cc - the project's only C++: CLBlast's tuning API
// (clblast::TuneXgemm, clblast::RetrieveParameters) exists in C++ only. Two C
// functions for tune.c; applying a result goes through CLBlast's C API
// (CLBlastOverrideParameters, runtime/model.c). Parameters travel as text,
// "NAME=VALUE,NAME=VALUE", sorted by name: the tuning file's format.
#include <clblast.h>

#include <cstdio>
#include <exception>
#include <map>
#include <string>
#include <unordered_map>

#include "clblast_tune.h"

static int format(const std::unordered_map<std::string, size_t> &p, char *out, size_t size)
{
    std::map<std::string, size_t> sorted(p.begin(), p.end());
    std::string text;
    for (const auto &kv : sorted) {
        if (!text.empty())
            text += ',';
        text += kv.first + '=' + std::to_string(kv.second);
    }
    if (text.size() + 1 > size)
        return -1;
    std::snprintf(out, size, "%s", text.c_str());
    return 0;
}

extern "C" int an_clblast_tune_gemm(cl_command_queue queue, size_t m, size_t n, size_t k,
                                    double fraction, char *params, size_t size)
{
    std::unordered_map<std::string, size_t> p;
    clblast::StatusCode st = clblast::StatusCode::kUnknownError;
    try {
        st = clblast::TuneXgemm<float>(&queue, m, n, k, fraction, p);
    } catch (const std::exception &e) {
        std::fprintf(stderr, "CLBlast's tuner: %s\n", e.what());
        return static_cast<int>(clblast::StatusCode::kUnknownError);
    } catch (...) {
        return static_cast<int>(clblast::StatusCode::kUnknownError);
    }
    if (st != clblast::StatusCode::kSuccess)
        return static_cast<int>(st);
    return format(p, params, size) == 0 ? 0 : static_cast<int>(clblast::StatusCode::kUnknownError);
}

extern "C" int an_clblast_gemm_params(cl_device_id device, char *params, size_t size)
{
    std::unordered_map<std::string, size_t> p;
    clblast::StatusCode st = clblast::StatusCode::kUnknownError;
    try {
        st = clblast::RetrieveParameters(device, "Xgemm", clblast::Precision::kSingle, p);
    } catch (...) {
        return static_cast<int>(clblast::StatusCode::kUnknownError);
    }
    if (st != clblast::StatusCode::kSuccess)
        return static_cast<int>(st);
    return format(p, params, size) == 0 ? 0 : static_cast<int>(clblast::StatusCode::kUnknownError);
}
