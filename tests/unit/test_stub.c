/* test_stub.c: placeholder. */
int main(void) { return 0; }
