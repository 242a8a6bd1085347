/* A shared object that is not a canon engine: no canon_backend_entry. */
__attribute__((visibility("default"))) int not_an_engine(void) { return 42; }
