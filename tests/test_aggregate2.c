#include "testutil.h"
Test(aggregate2, placeholder) {}
