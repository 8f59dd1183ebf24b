/* demo.c: placeholder until written. */
