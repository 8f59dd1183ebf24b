/* report_text.c: placeholder until written. */
