#ifndef STYLIZE_CLCMS_H
#define STYLIZE_CLCMS_H

/* Little CMS behind plain C calls: embedded ICC profiles to sRGB. Each call makes its own lcms
 * context whose error handler (cmsSetLogErrorHandlerTHR) copies the first message into the
 * caller's buffer, so nothing prints and calls on several threads do not share state. */

#include <stddef.h>
#include <stdint.h>

enum {
    CLCMS_OK = 0,
    CLCMS_ERR_PROFILE = 1,     /* lcms refused the profile bytes (message says why) */
    CLCMS_ERR_COLORSPACE = 2,  /* the profile is not for RGB or gray data (message names it) */
    CLCMS_ERR_TRANSFORM = 3,   /* no transform to sRGB could be built from it */
    CLCMS_ERR_NOMEM = 4
};

typedef struct clcms_transform clcms_transform;

/* Parses `profile` and builds a float transform from it to sRGB (perceptual intent, falling back
 * to what the profile supports; black-point compensation). `gray` is set when the profile is for
 * gray data (the input then has one sample per pixel). `description` receives the profile's
 * description (may be empty). `identity` is set when the transform moves no value of a 9x9x9
 * grid of colours by more than half an 8-bit level, i.e. the profile is sRGB in effect. */
int clcms_open(const uint8_t *profile, size_t length, clcms_transform **transform, int *gray,
               int *identity, char *description, size_t descriptionlen, char *err,
               size_t errlen);

/* Converts `count` pixels (a row, say): `input` holds 3 (RGB) or 1 (gray) floats a pixel in 0...1, `output`
 * 3 floats a pixel in 0...1 (sRGB). They may be the same buffer for RGB profiles. */
void clcms_apply(clcms_transform *transform, const float *input, float *output, uint32_t count);

void clcms_close(clcms_transform *transform);

/* The sRGB profile that outputs are tagged with (lcms's built-in sRGB), malloc'd; free() it. */
int clcms_srgb_profile(uint8_t **profile, uint32_t *length);

/* Whether `profile` parses and describes sRGB in effect (see `identity` above): 1 yes, 0 no. */
int clcms_is_srgb(const uint8_t *profile, size_t length);

/* For tests and seeds: an RGB matrix-shaper profile with D65 white, the given primaries
 * (x, y of red, green, blue) and one gamma for all three curves; or, when `gray`, a gray
 * profile with that gamma. Malloc'd; free() it. */
int clcms_make_profile(int gray, const double primaries[6], double gamma, uint8_t **profile,
                       uint32_t *length);

/* For tests: lcms's own 16-bit transform of `count` RGB (or gray) pixels from `profile` to sRGB,
 * with the same intent and flags as clcms_open's, an independent reference for its float path. */
int clcms_reference_16(const uint8_t *profile, size_t length, const uint16_t *input,
                       uint16_t *output, size_t count);

#endif
