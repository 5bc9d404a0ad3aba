#ifndef STYLIZE_CJPEG_H
#define STYLIZE_CJPEG_H
int cjpeg_placeholder(void);
#endif
