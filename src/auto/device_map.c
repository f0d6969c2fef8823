/* auto/device_map.c — from_pretrained's device_map, checked before anything loads. transformers
 * accepts "auto", "balanced", "balanced_low_0", "sequential", a device name ("cpu", "cuda:0"), a
 * device index or a {module: device} dict. automodel runs on the CPU: what places everything on
 * "cpu" is accepted (it is what loading does anyway); a strategy or another device is refused,
 * naming the option as the caller spells it, never ignored. */
#include "auto/auto.h"
#include "core/error.h"
#include <cJSON.h>
#include <ctype.h>
#include <string.h>

static const char *k_strategies[] = {"auto", "balanced", "balanced_low_0", "sequential"};

/* torch.device's names: a type, optionally ":index" */
static bool device_name(const char *s) {
    static const char *types[] = {"cpu", "cuda", "mps", "xpu", "meta", "hpu", "npu", "xla", "ipu", "mkldnn", "opengl",
                                  "opencl", "ideep", "hip", "ve", "fpga", "ort", "vulkan", "lazy", "mtia", "privateuseone"};
    for (size_t i = 0; i < sizeof types / sizeof types[0]; i++) {
        size_t n = strlen(types[i]);
        if (strncmp(s, types[i], n)) continue;
        if (!s[n]) return true;
        if (s[n] != ':' || !s[n + 1]) continue;
        const char *d = s + n + 1;
        while (isdigit((unsigned char)*d)) d++;
        if (!*d) return true;
    }
    return false;
}

static am_status refuse(const char *dm) {
    return am__error(AM_ERR_UNSUPPORTED,
                     "%s%s: placing the model on devices is not implemented: automodel runs on the CPU only. "
                     "Use %s or leave it out.",
                     am__opt_name("device_map=", "--device-map "), dm, am__opt_name("device_map=\"cpu\"", "--device-map cpu"));
}

am_status am__device_map_check(const char *dm) {
    if (!dm || !*dm) return AM_OK;
    for (size_t i = 0; i < sizeof k_strategies / sizeof k_strategies[0]; i++)
        if (!strcmp(dm, k_strategies[i])) return refuse(dm);
    if (!strcmp(dm, "cpu")) return AM_OK;
    if (device_name(dm)) return refuse(dm);
    const char *p = dm;
    while (isspace((unsigned char)*p)) p++;
    if (isdigit((unsigned char)*p)) { /* an int: a GPU index */
        while (isdigit((unsigned char)*p)) p++;
        if (!*p) return refuse(dm);
    }
    cJSON *j = dm[strspn(dm, " \t\n")] == '{' ? cJSON_Parse(dm) : NULL;
    if (!j || !cJSON_IsObject(j)) {
        cJSON_Delete(j);
        return am__error(AM_ERR_INVALID_ARGUMENT,
                         "When passing %s as a string, the value needs to be a device name (e.g. cpu, cuda:0) or 'auto', "
                         "'balanced', 'balanced_low_0', 'sequential' (or a JSON object of module names to devices) but found %s.",
                         am__opt_name("device_map", "--device-map"), dm);
    }
    am_status st = AM_OK;
    for (const cJSON *e = j->child; e && !st; e = e->next) {
        if (cJSON_IsString(e) && !strcmp(e->valuestring, "cpu")) continue;
        if ((cJSON_IsString(e) && (device_name(e->valuestring) || !strcmp(e->valuestring, "disk"))) ||
            (cJSON_IsNumber(e) && e->valuedouble >= 0))
            st = refuse(dm);
        else
            st = am__error(AM_ERR_INVALID_ARGUMENT, "%s: the device of '%s' must be a device name (\"cpu\"), an index or \"disk\"",
                           am__opt_name("device_map", "--device-map"), e->string);
    }
    cJSON_Delete(j);
    return st;
}
