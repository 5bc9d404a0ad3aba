int cjpeg_placeholder(void) { return 0; }
