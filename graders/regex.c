/* regex.c: placeholder until written. */
