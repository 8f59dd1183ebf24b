/* stub.c: placeholder until written. */
