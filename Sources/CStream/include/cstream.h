#ifndef STYLIZE_CSTREAM_H
#define STYLIZE_CSTREAM_H

/* Stores past the caches for the native backend's fresh output maps, which Swift cannot express.
 * A map larger than the caches is read back from memory by the next op anyway; stored through
 * them, every line it overwrites is first read from memory. Whole 64-byte lines of the target are
 * stored non-temporally (x86), the partial lines at either end with ordinary stores; each call
 * ends with a store fence, so the values are visible to any thread that synchronises with the
 * caller afterwards. Elsewhere these are plain loops. The values are the same bits either way. */

/* target[k] = source[k] + bias for k < count; with relu, 0 where that sum is ≤ 0 (NaN stays):
 * Swift's max(sum, 0). */
void cstream_biased(float *target, const float *source, long count, float bias, int relu);

/* target[k] = source[k] for k < count. */
void cstream_copy(float *target, const float *source, long count);

/* target[r·stride + k] = source[16·r + k] for r < rows, k < count (at most 16): a block's rows made
 * in a small buffer, each row one line of the target, stored non-temporally where it is a whole
 * aligned line. No fence: call cstream_fence once the thread has stored all its rows. */
void cstream_rows16(float *target, long stride, const float *source, long rows, int count);

/* Orders this thread's stores past the caches before whatever it does next (x86 sfence). */
void cstream_fence(void);

#endif
