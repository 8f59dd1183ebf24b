/* equals.c: placeholder until written. */
