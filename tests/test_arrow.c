#include "testutil.h"
Test(arrow, placeholder) {}
