#include "vips.h"

#ifdef __GLIBC__
#include <malloc.h>
#endif

// Block every loader, then allow back only the buffer loaders the sniffer lets through. This is
// stronger than VIPS_BLOCK_UNTRUSTED (which leaves e.g. matrixload open) and works although bimg
// runs vips_init in its package init, before any environment variable set from Go is seen.
static void gp_drop_log(const gchar *domain, GLogLevelFlags level, const gchar *message, gpointer data) {
	(void) domain; (void) level; (void) message; (void) data;
}

#ifdef __GLIBC__
// glibc gives each thread that mallocs its own arena and rarely returns their free pages: with
// libvips' worker threads RSS then climbs image after image. Two arenas keep it flat (what
// imgproxy and sharp advise through MALLOC_ARENA_MAX) without relying on the environment a
// process was started with. glibc fixes its arena limit the first time a second arena is made,
// so this runs as a constructor, before the Go runtime or libvips start any thread; an explicit
// MALLOC_ARENA_MAX still wins.
__attribute__((constructor)) static void gp_limit_arenas(void) {
	if (!getenv("MALLOC_ARENA_MAX"))
		mallopt(M_ARENA_MAX, 2);
}
#endif

void gp_configure(int concurrency) {
	// libvips reports each failure twice: a warning on stderr and the error buffer. The error
	// buffer reaches our typed errors and JSON logs; raw stderr lines would break both.
	g_log_set_handler("VIPS", G_LOG_LEVEL_WARNING | G_LOG_LEVEL_MESSAGE | G_LOG_LEVEL_INFO, gp_drop_log, NULL);
	g_log_set_handler("GLib-GObject", G_LOG_LEVEL_WARNING, gp_drop_log, NULL);
	vips_cache_set_max(0);
	vips_cache_set_max_mem(0);
	vips_cache_set_max_files(0);
	vips_concurrency_set(concurrency);
	vips_block_untrusted_set(TRUE);
	vips_operation_block_set("VipsForeignLoad", TRUE);
	vips_operation_block_set("VipsForeignLoadJpegBuffer", FALSE);
	vips_operation_block_set("VipsForeignLoadPngBuffer", FALSE);
	vips_operation_block_set("VipsForeignLoadWebpBuffer", FALSE);
	vips_operation_block_set("VipsForeignLoadNsgifBuffer", FALSE);
	vips_operation_block_set("VipsForeignLoadTiffBuffer", FALSE);
	vips_operation_block_set("VipsForeignLoadHeifBuffer", FALSE);
}

// The error buffer is process-wide; callers serialise image work, so the text belongs to the
// call that just failed. The caller copies it, then it is cleared for the next call.
const char *gp_error(void) {
	return vips_error_buffer();
}

int gp_load(int fmt, const void *buf, size_t len, int shrink, double scale, int header_only, VipsImage **out) {
	// Sequential access streams the decode through the pipeline instead of decoding the whole
	// image to memory (or to a temp file in /tmp past 100 MB). fail_on=error turns truncated
	// and corrupt data into an error instead of a grey-filled photo.
	VipsAccess access = VIPS_ACCESS_SEQUENTIAL;
	VipsFailOn fail = VIPS_FAIL_ON_ERROR;
	(void) header_only; // libvips reads only the header until pixels are asked for
	switch (fmt) {
	case GP_JPEG:
		return vips_jpegload_buffer((void *) buf, len, out, "access", access, "fail_on", fail,
			"shrink", shrink > 0 ? shrink : 1, NULL);
	case GP_PNG:
		return vips_pngload_buffer((void *) buf, len, out, "access", access, "fail_on", fail, NULL);
	case GP_WEBP:
		return vips_webpload_buffer((void *) buf, len, out, "access", access, "fail_on", fail,
			"scale", scale > 0 ? scale : 1.0, NULL);
	case GP_GIF:
		return vips_gifload_buffer((void *) buf, len, out, "access", access, "fail_on", fail,
			"n", 1, "page", 0, NULL);
	case GP_TIFF:
		return vips_tiffload_buffer((void *) buf, len, out, "access", access, "fail_on", fail,
			"page", 0, "n", 1, NULL);
	case GP_HEIF:
		// thumbnail=FALSE: phones embed 320 px previews, far below 648.
		return vips_heifload_buffer((void *) buf, len, out, "access", access, "fail_on", fail,
			"page", 0, "n", 1, "thumbnail", FALSE, NULL);
	}
	vips_error("graphphoto", "unknown format %d", fmt);
	return -1;
}

void gp_header_of(VipsImage *in, gp_header *h) {
	int v = 0;
	h->width = vips_image_get_width(in);
	h->height = vips_image_get_height(in);
	h->bands = vips_image_get_bands(in);
	h->interpretation = vips_image_get_interpretation(in);
	h->format = vips_image_get_format(in);
	h->orientation = vips_image_get_orientation(in);
	h->interlaced = vips_image_get_typeof(in, "interlaced") && !vips_image_get_int(in, "interlaced", &v) && v;
	h->pages = vips_image_get_n_pages(in);
	h->has_icc = vips_image_get_typeof(in, VIPS_META_ICC_NAME) != 0;
}

// Embedded profile first; fallback_profile ("cmyk" or "srgb", libvips' built-ins) when there is
// none or it is broken. Perceptual intent, as sharp does: it keeps out-of-gamut P3/ProPhoto
// colours graded instead of clipped (falls back to relative for matrix-shaper profiles).
int gp_icc_import(VipsImage *in, const char *fallback_profile, VipsImage **out) {
	return vips_icc_transform(in, out, "srgb",
		"embedded", TRUE,
		"input_profile", fallback_profile,
		"intent", VIPS_INTENT_PERCEPTUAL,
		"depth", 8,
		NULL);
}

int gp_to_srgb(VipsImage *in, VipsImage **out) {
	VipsImage *t = NULL;
	if (vips_colourspace(in, &t, VIPS_INTERPRETATION_sRGB, NULL))
		return -1;
	// 16-bit sources arrive as ushort sRGB; the pipeline works in 8 bits from here on.
	if (vips_image_get_format(t) != VIPS_FORMAT_UCHAR) {
		int r = vips_cast_uchar(t, out, NULL);
		g_object_unref(t);
		return r;
	}
	*out = t;
	return 0;
}

// Premultiplying around the resize keeps transparent pixels' (often black) colour out of the
// edges of opaque ones.
int gp_resize_premultiplied(VipsImage *in, double hscale, double vscale, VipsImage **out) {
	VipsImage *pre = NULL, *res = NULL, *un = NULL;
	int alpha = vips_image_hasalpha(in);
	int r;
	if (!alpha)
		return vips_resize(in, out, hscale, "vscale", vscale, "kernel", VIPS_KERNEL_LANCZOS3, NULL);
	if (vips_premultiply(in, &pre, NULL))
		return -1;
	r = vips_resize(pre, &res, hscale, "vscale", vscale, "kernel", VIPS_KERNEL_LANCZOS3, NULL);
	g_object_unref(pre);
	if (r)
		return -1;
	r = vips_unpremultiply(res, &un, NULL);
	g_object_unref(res);
	if (r)
		return -1;
	// Back to the source's depth: 16-bit images stay 16-bit until the colour step.
	r = vips_cast(un, out, vips_image_get_format(in), NULL);
	g_object_unref(un);
	return r;
}

// White is the alpha channel's maximum: 255, or 65535 for 16-bit images; one value serves any
// number of bands. The result keeps the input's depth.
int gp_flatten_white(VipsImage *in, VipsImage **out) {
	VipsArrayDouble *white;
	VipsImage *t = NULL;
	VipsInterpretation interp = vips_image_get_interpretation(in);
	double max = (interp == VIPS_INTERPRETATION_RGB16 || interp == VIPS_INTERPRETATION_GREY16) ? 65535.0 : 255.0;
	int r;
	if (!vips_image_hasalpha(in)) {
		*out = in;
		g_object_ref(in);
		return 0;
	}
	white = vips_array_double_new(&max, 1);
	r = vips_flatten(in, &t, "background", white, "max_alpha", max, NULL);
	vips_area_unref(VIPS_AREA(white));
	if (r)
		return -1;
	r = vips_cast(t, out, vips_image_get_format(in), NULL);
	g_object_unref(t);
	return r;
}

int gp_copy_memory(VipsImage *in, VipsImage **out) {
	VipsImage *t = vips_image_copy_memory(in);
	if (!t)
		return -1;
	*out = t;
	return 0;
}

int gp_autorot(VipsImage *in, VipsImage **out) {
	return vips_autorot(in, out, NULL);
}

int gp_crop(VipsImage *in, int width, int height, int interesting, VipsImage **out) {
	return vips_smartcrop(in, out, width, height, "interesting", interesting, NULL);
}

int gp_resize_plain(VipsImage *in, double scale, VipsImage **out) {
	return vips_resize(in, out, scale, "kernel", VIPS_KERNEL_LANCZOS3, NULL);
}

// strip drops EXIF (with GPS), XMP, IPTC and ICC; interlace=FALSE is baseline, which every
// Graph client and old Outlook renders.
int gp_jpegsave(VipsImage *in, int quality, void **buf, size_t *len) {
	return vips_jpegsave_buffer(in, buf, len,
		"Q", quality,
		"strip", TRUE,
		"optimize_coding", TRUE,
		"interlace", FALSE,
		NULL);
}
