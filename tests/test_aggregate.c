#include "testutil.h"
Test(aggregate, placeholder) {}
