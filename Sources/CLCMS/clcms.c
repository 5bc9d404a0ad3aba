#include "clcms.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <lcms2.h>
#include <lcms2_plugin.h>

typedef struct {
    char *err;
    size_t errlen;
    int errors;
    /* The largest single allocation the profile may cause (capped_malloc). */
    size_t max_allocation;
} clcms_messages;

struct clcms_transform {
    cmsContext context;
    cmsHTRANSFORM transform;
    clcms_messages messages;
};

static void set_message(char *err, size_t errlen, const char *message) {
    if (err != NULL && errlen > 0) {
        snprintf(err, errlen, "%s", message);
    }
}

static void on_error(cmsContext context, cmsUInt32Number code, const char *text) {
    (void)code;
    clcms_messages *messages = (clcms_messages *)cmsGetContextUserData(context);
    if (messages != NULL && messages->errors++ == 0) {
        set_message(messages->err, messages->errlen, text);
    }
}

/* Little CMS sizes some tables by the counts a tag declares, unchecked against the tag's
   size: a 588-byte profile whose description declared 16.7 million entries made it allocate
   200 MB. A profile's tables may take 16 MB plus four bytes (a float) for every byte of the
   profile; a larger request fails, and Little CMS treats the tag as unreadable. */
static const size_t allocation_floor = (size_t)16 << 20;

static size_t allowed(cmsContext context) {
    clcms_messages *messages =
        context != NULL ? (clcms_messages *)cmsGetContextUserData(context) : NULL;
    return messages != NULL && messages->max_allocation > 0 ? messages->max_allocation : allocation_floor;
}

static void *capped_malloc(cmsContext context, cmsUInt32Number size) {
    return size > allowed(context) ? NULL : malloc(size);
}

static void capped_free(cmsContext context, void *pointer) {
    (void)context;
    free(pointer);
}

static void *capped_realloc(cmsContext context, void *pointer, cmsUInt32Number size) {
    return size > allowed(context) ? NULL : realloc(pointer, size);
}

static cmsPluginMemHandler capped_memory = {
    {cmsPluginMagicNumber, 2060, cmsPluginMemHandlerSig, NULL}, capped_malloc, capped_free, capped_realloc,
    NULL, NULL, NULL};

static cmsContext make_context(clcms_messages *messages) {
    cmsContext context = cmsCreateContext(&capped_memory, messages);
    if (context != NULL) {
        cmsSetLogErrorHandlerTHR(context, on_error);
    }
    return context;
}

static const cmsUInt32Number flags = cmsFLAGS_BLACKPOINTCOMPENSATION;

/* The first intent of perceptual, relative colorimetric the profile supports as an input. */
static cmsUInt32Number intent_for(cmsHPROFILE profile) {
    return cmsIsIntentSupported(profile, INTENT_PERCEPTUAL, LCMS_USED_AS_INPUT)
               ? INTENT_PERCEPTUAL
               : INTENT_RELATIVE_COLORIMETRIC;
}

/* A transform from `profile` to sRGB for `input_format`/`output_format`, or NULL. */
static cmsHTRANSFORM transform_to_srgb(cmsContext context, cmsHPROFILE profile,
                                       cmsUInt32Number input_format,
                                       cmsUInt32Number output_format) {
    cmsHPROFILE srgb = cmsCreate_sRGBProfileTHR(context);
    if (srgb == NULL) {
        return NULL;
    }
    cmsHTRANSFORM transform = cmsCreateTransformTHR(context, profile, input_format, srgb,
                                                    output_format, intent_for(profile), flags);
    cmsCloseProfile(srgb);
    return transform;
}

static int is_identity(cmsHTRANSFORM transform, int gray) {
    enum { N = 9 };
    float in[N * N * N * 3], out[N * N * N * 3];
    size_t count = 0;
    for (int r = 0; r < N; r++) {
        for (int g = 0; g < N; g++) {
            for (int b = 0; b < N; b++, count++) {
                in[3 * count] = (float)r / (N - 1);
                in[3 * count + 1] = (float)g / (N - 1);
                in[3 * count + 2] = (float)b / (N - 1);
            }
        }
    }
    if (gray) { /* gray levels only: each must come out as the same neutral level */
        count = N * N;
        for (size_t i = 0; i < count; i++) in[i] = (float)i / (count - 1);
    }
    cmsDoTransform(transform, in, out, (cmsUInt32Number)count);
    for (size_t i = 0; i < count; i++) {
        for (int c = 0; c < 3; c++) {
            float expected = gray ? in[i] : in[3 * i + c];
            float difference = out[3 * i + c] - expected;
            if (difference > 0.5f / 255 || difference < -0.5f / 255) {
                return 0;
            }
        }
    }
    return 1;
}

int clcms_open(const uint8_t *bytes, size_t length, clcms_transform **out, int *gray,
               int *identity, char *description, size_t descriptionlen, char *err,
               size_t errlen) {
    *out = NULL;
    *gray = 0;
    *identity = 0;
    set_message(err, errlen, "");
    set_message(description, descriptionlen, "");
    clcms_transform *result = calloc(1, sizeof *result);
    if (result == NULL) {
        set_message(err, errlen, "out of memory");
        return CLCMS_ERR_NOMEM;
    }
    result->messages.err = err;
    result->messages.errlen = errlen;
    result->messages.max_allocation =
        allocation_floor + (length < SIZE_MAX / 8 ? 4 * length : SIZE_MAX / 2);
    result->context = make_context(&result->messages);
    if (result->context == NULL || length > UINT32_MAX) {
        set_message(err, errlen, result->context == NULL ? "out of memory" : "profile too large");
        clcms_close(result);
        return CLCMS_ERR_NOMEM;
    }
    cmsHPROFILE profile = cmsOpenProfileFromMemTHR(result->context, bytes, (cmsUInt32Number)length);
    if (profile == NULL) {
        if (result->messages.errors == 0) set_message(err, errlen, "not an ICC profile");
        clcms_close(result);
        return CLCMS_ERR_PROFILE;
    }
    if (description != NULL && descriptionlen > 0) {
        cmsGetProfileInfoASCII(profile, cmsInfoDescription, "en", "US", description,
                               (cmsUInt32Number)descriptionlen);
    }
    cmsColorSpaceSignature space = cmsGetColorSpace(profile);
    cmsProfileClassSignature class = cmsGetDeviceClass(profile);
    int status = CLCMS_OK;
    if ((space != cmsSigRgbData && space != cmsSigGrayData) || class == cmsSigLinkClass ||
        class == cmsSigAbstractClass || class == cmsSigNamedColorClass) {
        char message[128];
        char name[5] = {(char)(space >> 24), (char)(space >> 16), (char)(space >> 8), (char)space, 0};
        for (int i = 0; i < 4; i++) {
            if (name[i] < 0x20 || name[i] > 0x7e) name[i] = '?';
        }
        snprintf(message, sizeof message, "a profile for '%s' data, not RGB or gray", name);
        set_message(err, errlen, message);
        status = CLCMS_ERR_COLORSPACE;
    } else {
        *gray = space == cmsSigGrayData;
        result->transform = transform_to_srgb(result->context, profile,
                                              *gray ? TYPE_GRAY_FLT : TYPE_RGB_FLT, TYPE_RGB_FLT);
        if (result->transform == NULL) {
            if (result->messages.errors == 0) set_message(err, errlen, "no transform to sRGB");
            status = CLCMS_ERR_TRANSFORM;
        }
    }
    cmsCloseProfile(profile);
    if (status != CLCMS_OK) {
        clcms_close(result);
        return status;
    }
    *identity = is_identity(result->transform, *gray);
    *out = result;
    return CLCMS_OK;
}

void clcms_apply(clcms_transform *transform, const float *input, float *output, uint32_t count) {
    cmsDoTransform(transform->transform, input, output, count);
}

void clcms_close(clcms_transform *transform) {
    if (transform != NULL) {
        if (transform->transform != NULL) cmsDeleteTransform(transform->transform);
        if (transform->context != NULL) cmsDeleteContext(transform->context);
        free(transform);
    }
}

static int save(cmsHPROFILE profile, uint8_t **out, uint32_t *length) {
    cmsUInt32Number size = 0;
    *out = NULL;
    *length = 0;
    if (profile == NULL || !cmsSaveProfileToMem(profile, NULL, &size) || size == 0) {
        if (profile != NULL) cmsCloseProfile(profile);
        return CLCMS_ERR_PROFILE;
    }
    *out = malloc(size);
    int ok = *out != NULL && cmsSaveProfileToMem(profile, *out, &size);
    cmsCloseProfile(profile);
    if (!ok) {
        free(*out);
        *out = NULL;
        return CLCMS_ERR_NOMEM;
    }
    *length = size;
    return CLCMS_OK;
}

int clcms_srgb_profile(uint8_t **profile, uint32_t *length) {
    clcms_messages messages = {NULL, 0, 0, 0};
    cmsContext context = make_context(&messages);
    int status = save(cmsCreate_sRGBProfileTHR(context), profile, length);
    cmsDeleteContext(context);
    return status;
}

int clcms_is_srgb(const uint8_t *profile, size_t length) {
    clcms_transform *transform = NULL;
    int gray = 0, identity = 0;
    char err[64];
    if (clcms_open(profile, length, &transform, &gray, &identity, NULL, 0, err, sizeof err) != CLCMS_OK) {
        return 0;
    }
    clcms_close(transform);
    return identity && !gray;
}

int clcms_make_profile(int gray, const double primaries[6], double gamma, uint8_t **profile,
                       uint32_t *length) {
    clcms_messages messages = {NULL, 0, 0, 0};
    cmsContext context = make_context(&messages);
    cmsCIExyY white;
    cmsWhitePointFromTemp(&white, 6504);
    cmsToneCurve *curve = cmsBuildGamma(context, gamma);
    cmsHPROFILE made = NULL;
    if (curve != NULL && gray) {
        made = cmsCreateGrayProfileTHR(context, &white, curve);
    } else if (curve != NULL) {
        cmsCIExyYTRIPLE xyY = {{primaries[0], primaries[1], 1},
                               {primaries[2], primaries[3], 1},
                               {primaries[4], primaries[5], 1}};
        cmsToneCurve *curves[3] = {curve, curve, curve};
        made = cmsCreateRGBProfileTHR(context, &white, &xyY, curves);
    }
    if (curve != NULL) cmsFreeToneCurve(curve);
    int status = save(made, profile, length);
    cmsDeleteContext(context);
    return status;
}

int clcms_reference_16(const uint8_t *bytes, size_t length, const uint16_t *input,
                       uint16_t *output, size_t count) {
    clcms_messages messages = {NULL, 0, 0, 0};
    cmsContext context = make_context(&messages);
    cmsHPROFILE profile = cmsOpenProfileFromMemTHR(context, bytes, (cmsUInt32Number)length);
    cmsHTRANSFORM transform = NULL;
    if (profile != NULL) {
        int gray = cmsGetColorSpace(profile) == cmsSigGrayData;
        transform = transform_to_srgb(context, profile, gray ? TYPE_GRAY_16 : TYPE_RGB_16, TYPE_RGB_16);
        cmsCloseProfile(profile);
    }
    if (transform != NULL) {
        cmsDoTransform(transform, input, output, (cmsUInt32Number)count);
        cmsDeleteTransform(transform);
    }
    cmsDeleteContext(context);
    return transform != NULL ? CLCMS_OK : CLCMS_ERR_TRANSFORM;
}
