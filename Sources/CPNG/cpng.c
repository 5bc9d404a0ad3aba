#include "cpng.h"

#include <errno.h>
#include <png.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Status travels from the libpng callbacks (which must not return normally on error) to the
 * setjmp point through this context. */
typedef struct {
    FILE *file;
    int status;        /* status to return when libpng longjmps */
    char *err;
    size_t errlen;
} cpng_context;

static void set_message(char *err, size_t errlen, const char *message) {
    if (err != NULL && errlen > 0) {
        snprintf(err, errlen, "%s", message);
    }
}

static void on_error(png_structp png, png_const_charp message) {
    cpng_context *context = (cpng_context *)png_get_error_ptr(png);
    /* A status set by the read callback (truncation) is more precise than libpng's own. */
    if (context->status == CPNG_OK) {
        context->status = CPNG_ERR_CORRUPT;
        set_message(context->err, context->errlen, message);
    }
    png_longjmp(png, 1);
}

static void on_warning(png_structp png, png_const_charp message) {
    (void)png;
    (void)message; /* benign: libpng already recovered (e.g. a bad ancillary chunk was skipped) */
}

static void read_from_file(png_structp png, png_bytep data, size_t length) {
    cpng_context *context = (cpng_context *)png_get_io_ptr(png);
    if (fread(data, 1, length, context->file) != length) {
        context->status = ferror(context->file) ? CPNG_ERR_CORRUPT : CPNG_ERR_TRUNCATED;
        set_message(context->err, context->errlen,
                    ferror(context->file) ? "read error" : "file ends early (truncated)");
        png_error(png, "read failed");
    }
}

static void write_to_file(png_structp png, png_bytep data, size_t length) {
    cpng_context *context = (cpng_context *)png_get_io_ptr(png);
    if (fwrite(data, 1, length, context->file) != length) {
        context->status = CPNG_ERR_WRITE;
        set_message(context->err, context->errlen, strerror(errno));
        png_error(png, "write failed");
    }
}

static void flush_file(png_structp png) {
    cpng_context *context = (cpng_context *)png_get_io_ptr(png);
    fflush(context->file);
}

static FILE *open_file(const char *path, const char *mode, cpng_context *context) {
    FILE *file = fopen(path, mode);
    if (file == NULL) {
        set_message(context->err, context->errlen, strerror(errno));
    }
    return file;
}

void cpng_free(cpng_image *image) {
    if (image != NULL) {
        free(image->pixels);
        image->pixels = NULL;
        free(image->icc);
        image->icc = NULL;
    }
}

int cpng_read(const char *path, uint64_t max_pixels, cpng_image *out, char *err, size_t errlen) {
    cpng_context context = {NULL, CPNG_OK, err, errlen};
    memset(out, 0, sizeof *out);
    set_message(err, errlen, "");

    context.file = open_file(path, "rb", &context);
    if (context.file == NULL) {
        return CPNG_ERR_OPEN;
    }
    unsigned char signature[8];
    size_t got = fread(signature, 1, sizeof signature, context.file);
    if (got < sizeof signature || png_sig_cmp(signature, 0, sizeof signature) != 0) {
        fclose(context.file);
        set_message(err, errlen, got == 0 ? "file is empty" : "not a PNG file (bad signature)");
        return CPNG_ERR_NOT_PNG;
    }

    png_structp png = png_create_read_struct(PNG_LIBPNG_VER_STRING, &context, on_error, on_warning);
    png_infop info = png ? png_create_info_struct(png) : NULL;
    if (info == NULL) {
        png_destroy_read_struct(&png, NULL, NULL);
        fclose(context.file);
        set_message(err, errlen, "out of memory");
        return CPNG_ERR_NOMEM;
    }
    /* Changed after setjmp and read after longjmp: must be volatile. */
    unsigned char *volatile pixels = NULL;
    png_bytep *volatile rows = NULL;
    uint8_t *volatile icc = NULL;

    if (setjmp(png_jmpbuf(png))) {
        free(rows);
        free(pixels);
        free(icc);
        png_destroy_read_struct(&png, &info, NULL);
        fclose(context.file);
        return context.status == CPNG_OK ? CPNG_ERR_CORRUPT : context.status;
    }
    png_set_read_fn(png, &context, read_from_file);
    png_set_sig_bytes(png, (int)sizeof signature);
    /* Our max_pixels decides what is too large, not libpng's default 1,000,000-per-side limit. */
    png_set_user_limits(png, PNG_UINT_31_MAX, PNG_UINT_31_MAX);
    /* libpng allocates a text or other variable-length chunk's declared length before reading
     * it, and this build does not cap that: a 67-byte file declaring a 700 MB zTXt chunk made it
     * allocate 700 MB. We use none of these chunks, so libpng skips them unread. iCCP is read (the
     * colour profile): libpng checks the profile's declared length against the chunk limit below
     * before allocating it. */
    static const png_byte unused_chunks[] = "tEXt\0zTXt\0iTXt\0sPLT\0eXIf\0pCAL\0sCAL\0";
    png_set_chunk_malloc_max(png, CPNG_MAX_ICC);
    png_set_keep_unknown_chunks(png, PNG_HANDLE_CHUNK_NEVER, unused_chunks,
                                (int)(sizeof unused_chunks / 5));
    png_read_info(png, info);
    out->srgb = png_get_valid(png, info, PNG_INFO_sRGB) ? 1 : 0;
    png_charp icc_name = NULL;
    int icc_compression = 0;
    png_bytep icc_data = NULL;
    png_uint_32 icc_length = 0;
    if (png_get_iCCP(png, info, &icc_name, &icc_compression, &icc_data, &icc_length) != 0 &&
        icc_data != NULL && icc_length > 0) {
        icc = malloc(icc_length);
        if (icc == NULL) {
            context.status = CPNG_ERR_NOMEM;
            set_message(err, errlen, "out of memory");
            png_longjmp(png, 1);
        }
        memcpy(icc, icc_data, icc_length);
        out->icc_length = icc_length;
    }

    png_uint_32 width = png_get_image_width(png, info);
    png_uint_32 height = png_get_image_height(png, info);
    if ((uint64_t)width * (uint64_t)height > max_pixels) {
        out->width = width;
        out->height = height;
        context.status = CPNG_ERR_TOO_LARGE;
        set_message(err, errlen, "image too large");
        png_longjmp(png, 1);
    }

    int color_type = png_get_color_type(png, info);
    int bit_depth = png_get_bit_depth(png, info);
    if (color_type == PNG_COLOR_TYPE_PALETTE) {
        png_set_palette_to_rgb(png);
    }
    if (color_type == PNG_COLOR_TYPE_GRAY && bit_depth < 8) {
        png_set_expand_gray_1_2_4_to_8(png);
    }
    if (png_get_valid(png, info, PNG_INFO_tRNS)) {
        png_set_tRNS_to_alpha(png);
    }
    if (color_type == PNG_COLOR_TYPE_GRAY || color_type == PNG_COLOR_TYPE_GRAY_ALPHA) {
        png_set_gray_to_rgb(png);
    }
    if (bit_depth == 16) {
        const uint16_t probe = 1;
        if (*(const unsigned char *)&probe == 1) {
            png_set_swap(png); /* PNG stores 16-bit samples big-endian */
        }
    }
    png_set_interlace_handling(png);
    png_read_update_info(png, info);

    int channels = png_get_channels(png, info);
    int out_depth = png_get_bit_depth(png, info);
    size_t rowbytes = png_get_rowbytes(png, info);
    if ((channels != 3 && channels != 4) || (out_depth != 8 && out_depth != 16) ||
        rowbytes != (size_t)width * (size_t)channels * (size_t)(out_depth / 8)) {
        set_message(err, errlen, "unexpected layout after conversion to RGB");
        png_error(png, "unexpected layout after conversion to RGB");
    }
    if (height != 0 && rowbytes > SIZE_MAX / height) {
        context.status = CPNG_ERR_TOO_LARGE;
        set_message(err, errlen, "image too large for memory");
        png_longjmp(png, 1);
    }
    pixels = malloc(rowbytes * height);
    rows = malloc(sizeof(png_bytep) * height);
    if (pixels == NULL || rows == NULL) {
        context.status = CPNG_ERR_NOMEM;
        set_message(err, errlen, "out of memory");
        png_longjmp(png, 1);
    }
    for (png_uint_32 y = 0; y < height; y++) {
        rows[y] = pixels + (size_t)y * rowbytes;
    }
    png_read_image(png, rows);

    out->width = width;
    out->height = height;
    out->channels = channels;
    out->bit_depth = out_depth;
    out->source_color_type = color_type;
    out->source_bit_depth = bit_depth;
    out->pixels = pixels;
    out->icc = icc;
    free(rows);
    png_destroy_read_struct(&png, &info, NULL);
    fclose(context.file);
    return CPNG_OK;
}

/* Shared by both writers: `setup` has set IHDR and the optional chunks; rows follow. */
typedef void (*cpng_setup_fn)(png_structp png, png_infop info, const void *setup_data);

static int write_png(const char *path, uint32_t height, size_t rowbytes, cpng_fill_fn fill,
                     void *fill_context, int swap16, cpng_setup_fn setup, const void *setup_data,
                     char *err, size_t errlen) {
    cpng_context context = {NULL, CPNG_OK, err, errlen};
    set_message(err, errlen, "");
    context.file = open_file(path, "wb", &context);
    if (context.file == NULL) {
        return CPNG_ERR_WRITE;
    }
    png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, &context, on_error, on_warning);
    png_infop info = png ? png_create_info_struct(png) : NULL;
    if (info == NULL) {
        png_destroy_write_struct(&png, NULL);
        fclose(context.file);
        set_message(err, errlen, "out of memory");
        return CPNG_ERR_NOMEM;
    }
    /* One row at a time from `fill`: no interleaved copy of the whole image. */
    unsigned char *volatile row = malloc(rowbytes > 0 ? rowbytes : 1);
    if (setjmp(png_jmpbuf(png))) {
        free(row);
        png_destroy_write_struct(&png, &info);
        fclose(context.file);
        /* libpng's own errors while writing come from our arguments, not from the disk */
        return context.status == CPNG_ERR_CORRUPT ? CPNG_ERR_ARGUMENT : context.status;
    }
    if (row == NULL) {
        context.status = CPNG_ERR_NOMEM;
        set_message(err, errlen, "out of memory");
        png_longjmp(png, 1);
    }
    png_set_write_fn(png, &context, write_to_file, flush_file);
    setup(png, info, setup_data);
    png_write_info(png, info);
    if (swap16) {
        const uint16_t probe = 1;
        if (*(const unsigned char *)&probe == 1) {
            png_set_swap(png);
        }
    }
    for (uint32_t y = 0; y < height; y++) {
        fill(fill_context, y, row);
        png_write_row(png, row);
    }
    png_write_end(png, info);
    free(row);
    png_destroy_write_struct(&png, &info);
    if (fclose(context.file) != 0) {
        set_message(err, errlen, strerror(errno));
        return CPNG_ERR_WRITE;
    }
    return CPNG_OK;
}

typedef struct {
    uint32_t width, height;
    int color_type, bit_depth;
    const uint8_t *palette_rgb;
    int palette_count;
    const uint8_t *trns;
    int trns_count;
    int srgb;
    const uint8_t *icc;
    uint32_t icc_length;
} cpng_header;

static void setup_header(png_structp png, png_infop info, const void *setup_data) {
    const cpng_header *header = (const cpng_header *)setup_data;
    png_set_IHDR(png, info, header->width, header->height, header->bit_depth, header->color_type,
                 PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
    if (header->palette_rgb != NULL && header->palette_count > 0) {
        png_color palette[256];
        int count = header->palette_count > 256 ? 256 : header->palette_count;
        for (int i = 0; i < count; i++) {
            palette[i].red = header->palette_rgb[3 * i];
            palette[i].green = header->palette_rgb[3 * i + 1];
            palette[i].blue = header->palette_rgb[3 * i + 2];
        }
        png_set_PLTE(png, info, palette, count);
    }
    if (header->trns != NULL && header->trns_count > 0) {
        png_set_tRNS(png, info, header->trns, header->trns_count, NULL);
    }
    if (header->icc != NULL && header->icc_length > 0) {
        png_set_iCCP(png, info, "profile", PNG_COMPRESSION_TYPE_BASE, header->icc, header->icc_length);
    }
    if (header->srgb) {
        /* sRGB with the gAMA and cHRM chunks that match it, for readers that know only those */
        png_set_sRGB_gAMA_and_cHRM(png, info, PNG_sRGB_INTENT_PERCEPTUAL);
    }
}

int cpng_write(const char *path, uint32_t width, uint32_t height, int channels, int bit_depth,
               int srgb, cpng_fill_fn fill, void *context, char *err, size_t errlen) {
    if ((channels != 3 && channels != 4) || (bit_depth != 8 && bit_depth != 16) || width == 0 ||
        height == 0 || fill == NULL) {
        set_message(err, errlen, "cpng_write: channels must be 3 or 4, bit depth 8 or 16, size > 0");
        return CPNG_ERR_ARGUMENT;
    }
    cpng_header header = {width, height,
                          channels == 4 ? PNG_COLOR_TYPE_RGB_ALPHA : PNG_COLOR_TYPE_RGB,
                          bit_depth, NULL, 0, NULL, 0, srgb, NULL, 0};
    size_t rowbytes = (size_t)width * (size_t)channels * (size_t)(bit_depth / 8);
    return write_png(path, height, rowbytes, fill, context, bit_depth == 16, setup_header, &header,
                     err, errlen);
}

typedef struct {
    const uint8_t *rows;
    size_t rowbytes;
} cpng_rows;

static void copy_row(void *context, uint32_t y, void *row) {
    const cpng_rows *rows = (const cpng_rows *)context;
    memcpy(row, rows->rows + (size_t)y * rows->rowbytes, rows->rowbytes);
}

int cpng_write_raw(const char *path, uint32_t width, uint32_t height, int color_type, int bit_depth,
                   const uint8_t *rows, const uint8_t *palette_rgb, int palette_count,
                   const uint8_t *trns, int trns_count, const uint8_t *icc, uint32_t icc_length,
                   char *err, size_t errlen) {
    int channels;
    switch (color_type) {
    case PNG_COLOR_TYPE_GRAY: channels = 1; break;
    case PNG_COLOR_TYPE_GRAY_ALPHA: channels = 2; break;
    case PNG_COLOR_TYPE_PALETTE: channels = 1; break;
    case PNG_COLOR_TYPE_RGB: channels = 3; break;
    case PNG_COLOR_TYPE_RGB_ALPHA: channels = 4; break;
    default:
        set_message(err, errlen, "cpng_write_raw: unknown colour type");
        return CPNG_ERR_ARGUMENT;
    }
    if (rows == NULL || width == 0 || height == 0) {
        set_message(err, errlen, "cpng_write_raw: no pixels");
        return CPNG_ERR_ARGUMENT;
    }
    cpng_header header = {width, height, color_type, bit_depth, palette_rgb, palette_count,
                          trns, trns_count, 0, icc, icc_length};
    size_t rowbytes = ((size_t)width * (size_t)channels * (size_t)bit_depth + 7) / 8;
    cpng_rows source = {rows, rowbytes};
    return write_png(path, height, rowbytes, copy_row, &source, 0, setup_header, &header, err,
                     errlen);
}
