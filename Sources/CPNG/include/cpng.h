#ifndef STYLIZE_CPNG_H
#define STYLIZE_CPNG_H
int cpng_placeholder(void);
#endif
