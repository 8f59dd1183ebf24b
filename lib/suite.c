/* suite.c: placeholder until written. */
